import NIOCore
import PostgresNIO
import Recording

/// The store's redaction key (migration 0003) and rules (migration 0006).
enum PostgresRedaction {
    static func read(_ link: PostgresLink) async throws -> StoreRedaction {
        guard let key = try await link.rows("SELECT key FROM redaction_key").first?.decode(ByteBuffer.self), key.readableBytes > 0 else {
            throw PostgresStoreError.queryFailed(target: link.url.description, reason: "the store has no redaction key (table redaction_key is empty)")
        }
        let rules = try await link.rows("SELECT kind, name, direction, pattern FROM redaction_rules ORDER BY position").map { row in
            let (kind, name, direction, pattern) = try row.decode((String, String, String, String).self)
            return StoredRedactionRule(kind: kind, name: name, direction: direction, pattern: pattern)
        }
        return StoreRedaction(rules: rules, key: Array(buffer: key))
    }

    /// The redactor of a recorder writing with `given` rules: unless `useStoreRules` is false, the
    /// rules the store does not hold yet are added to it first, and all of the store's apply.
    static func redactor(_ link: PostgresLink, adding given: [RedactionRule], useStoreRules: Bool) async throws -> Redactor? {
        var redaction = try await read(link)
        let added = useStoreRules ? StoredRedactionRule.added(by: given, to: redaction.rules) : []
        if !added.isEmpty {
            try await link.transaction { link in
                for rule in added {
                    // Another recorder may have added the same rule since it was read.
                    try await link.rows("""
                        INSERT INTO redaction_rules (kind, name, direction, pattern)
                        VALUES (\(rule.kind), \(rule.name), \(rule.direction), \(rule.pattern)) ON CONFLICT DO NOTHING
                        """)
                }
            }
            redaction = try await read(link)
        }
        return try redaction.redactor(adding: given, useStoreRules: useStoreRules)
    }
}
