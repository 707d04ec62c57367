/// A redaction rule as a store remembers it (`redaction_rules`): a preset by name, or a regular
/// expression with its name and direction. Every recorder writing into the store applies all of
/// them, so that no recorder stores in clear what another one hid (docs/REDACTION.md).
public struct StoredRedactionRule: Sendable, Hashable, CustomStringConvertible {
    /// `preset` or `regex`.
    public var kind: String
    /// The preset's name, or the rule's.
    public var name: String
    /// A regex rule's direction; empty for a preset.
    public var direction: String
    /// A regex rule's pattern; empty for a preset.
    public var pattern: String

    public init(kind: String, name: String, direction: String, pattern: String) {
        self.kind = kind
        self.name = name
        self.direction = direction
        self.pattern = pattern
    }

    /// The stored form of each of `rules`, in order; a preset's rules are one.
    public static func describing(_ rules: [RedactionRule]) -> [StoredRedactionRule] {
        var stored: [StoredRedactionRule] = []
        for rule in rules {
            let entry = rule.preset.map { StoredRedactionRule(kind: "preset", name: $0.rawValue, direction: "", pattern: "") }
                ?? StoredRedactionRule(kind: "regex", name: rule.name, direction: rule.direction.rawValue, pattern: rule.source)
            if !stored.contains(entry) { stored.append(entry) }
        }
        return stored
    }

    /// The rules it stands for. One written by a newer wirelog may not be understood: refused,
    /// rather than recording without it.
    public func rules() throws(RedactionRuleError) -> [RedactionRule] {
        switch kind {
        case "preset":
            guard let preset = RedactionPreset(rawValue: name) else { throw .unusableStoredRule(description) }
            return preset.rules()
        case "regex":
            guard let direction = RedactionDirection(rawValue: direction) else { throw .unusableStoredRule(description) }
            return [try RedactionRule(name: name, pattern: pattern, direction: direction)]
        default:
            throw .unusableStoredRule(description)
        }
    }

    /// `http-auth`, or `rule1 (client) token=(\w+)`: for the log line that says which rules are in force.
    public var description: String {
        kind == "preset" ? name : "\(name) (\(direction)) \(pattern)"
    }

    /// The rules of `given` that `stored` does not hold yet, to be added after them. A rule named
    /// by number (`--redact`'s `ruleN`) whose name the store gives another rule is numbered on
    /// after the store's; one the store holds under another number is not added again.
    public static func added(by given: [RedactionRule], to stored: [StoredRedactionRule]) -> [StoredRedactionRule] {
        var all = stored
        var added: [StoredRedactionRule] = []
        for var entry in describing(given) where !all.contains(entry) {
            if entry.kind == "regex", Self.number(entry.name) != nil {
                if all.contains(where: { $0.kind == "regex" && Self.number($0.name) != nil
                                         && $0.direction == entry.direction && $0.pattern == entry.pattern }) { continue }
                if all.contains(where: { $0.name == entry.name }) {
                    entry.name = "rule\((all.compactMap { Self.number($0.name) }.max() ?? 0) + 1)"
                }
            }
            all.append(entry)
            added.append(entry)
        }
        return added
    }

    /// N of a name `ruleN`.
    private static func number(_ name: String) -> Int? {
        name.hasPrefix("rule") ? Int(name.dropFirst(4)) : nil
    }
}

/// What a store keeps for redaction: its rules and the key of its tokens (never shown).
public struct StoreRedaction: Sendable {
    public var rules: [StoredRedactionRule]
    public var key: [UInt8]

    public init(rules: [StoredRedactionRule], key: [UInt8]) {
        self.rules = rules
        self.key = key
    }

    /// The redactor of a recorder writing into the store with `given` rules: the store's rules
    /// and `given`, or `given` alone when `useStoreRules` is false. nil when there is no rule.
    public func redactor(adding given: [RedactionRule], useStoreRules: Bool) throws(RedactionRuleError) -> Redactor? {
        var rules: [RedactionRule] = []
        if useStoreRules {
            for stored in self.rules + StoredRedactionRule.added(by: given, to: self.rules) { rules += try stored.rules() }
        } else {
            rules = given
        }
        return rules.isEmpty ? nil : Redactor(rules: rules, key: key)
    }
}

extension Redactor {
    /// One line for the log of a recorder's start: which rules hide what before it is stored.
    public static func inForce(_ redactor: Redactor?) -> String {
        guard let redactor else { return "no redaction rules: messages are stored as they are sent" }
        return "redaction rules in force: " + StoredRedactionRule.describing(redactor.rules).map(\.description).joined(separator: ", ")
    }
}
