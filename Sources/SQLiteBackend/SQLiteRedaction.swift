import Recording

/// The store's redaction key (migration 0006) and rules (migration 0010).
enum SQLiteRedaction {
    static func read(_ database: Database) throws -> StoreRedaction {
        let keyStatement = try database.prepare("SELECT key FROM redaction_key")
        guard try keyStatement.step(), let key = keyStatement.blob(0), !key.isEmpty else {
            throw SQLiteStoreError.cannotOpen(path: database.path, reason: "the store has no redaction key (table redaction_key is empty)")
        }
        let statement = try database.prepare("SELECT kind, name, direction, pattern FROM redaction_rules ORDER BY position")
        var rules: [StoredRedactionRule] = []
        while try statement.step() {
            rules.append(StoredRedactionRule(kind: statement.text(0) ?? "", name: statement.text(1) ?? "",
                                             direction: statement.text(2) ?? "", pattern: statement.text(3) ?? ""))
        }
        return StoreRedaction(rules: rules, key: key)
    }

    /// The redactor of a recorder writing with `given` rules: unless `useStoreRules` is false, the
    /// rules the store does not hold yet are added to it first, and all of the store's apply.
    static func redactor(_ database: Database, adding given: [RedactionRule], useStoreRules: Bool) throws -> Redactor? {
        guard useStoreRules || !given.isEmpty else { return nil }
        var redaction = try read(database)
        let added = useStoreRules ? StoredRedactionRule.added(by: given, to: redaction.rules) : []
        if !added.isEmpty {
            try database.transaction {
                for rule in added {
                    // Another recorder may have added the same rule since it was read.
                    try database.run("INSERT OR IGNORE INTO redaction_rules (kind, name, direction, pattern) VALUES (?, ?, ?, ?)",
                                     .text(rule.kind), .text(rule.name), .text(rule.direction), .text(rule.pattern))
                }
            }
            redaction = try read(database)
        }
        return try redaction.redactor(adding: given, useStoreRules: useStoreRules)
    }
}
