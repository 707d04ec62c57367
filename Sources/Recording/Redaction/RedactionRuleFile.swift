extension RedactionRule {
    /// The rules of a rules file (`--redact-file`): one per line, options first, then the regular
    /// expression (the rest of the line), or a preset:
    ///
    ///     # comment
    ///     name=api-key direction=client X-Api-Key: (\S+)
    ///     preset=http-auth
    ///
    /// Unnamed rules are called `rule<N>`, numbering on from `firstNumber`.
    public static func rules(fromFile text: String, firstNumber: Int = 1) throws(RedactionRuleError) -> [RedactionRule] {
        var rules: [RedactionRule] = []
        var number = firstNumber
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var rest = line.drop { $0 == " " || $0 == "\t" }
            if rest.hasSuffix("\r") { rest = rest.dropLast() }
            if rest.isEmpty || rest.hasPrefix("#") { continue }
            var name: String?
            var direction = RedactionDirection.both
            var preset: RedactionPreset?
            while let (key, value, after) = Self.option(rest) {
                switch key {
                case .name: name = value
                case .direction:
                    guard let parsed = RedactionDirection(rawValue: value) else {
                        throw .badLine(line: index + 1, reason: "direction=\(value): use client, server or both")
                    }
                    direction = parsed
                case .preset:
                    guard let named = RedactionPreset(rawValue: value) else { throw .unknownPreset(value) }
                    preset = named
                }
                rest = after
            }
            if let preset {
                guard rest.isEmpty else { throw .badLine(line: index + 1, reason: "preset= takes no regular expression") }
                rules += preset.rules()
                continue
            }
            guard !rest.isEmpty else { throw .badLine(line: index + 1, reason: "no regular expression after the options") }
            do {
                rules.append(try RedactionRule(name: name ?? "rule\(number)", pattern: String(rest), direction: direction))
            } catch {
                throw .badLine(line: index + 1, reason: error.description)
            }
            number += 1
        }
        return rules
    }

    private enum FileOption: String {
        case name, direction, preset
    }

    /// `key=value` at the start of `text` when `key` is an option, and what follows its blanks.
    private static func option(_ text: Substring) -> (FileOption, String, Substring)? {
        guard let equals = text.firstIndex(of: "="), let key = FileOption(rawValue: String(text[..<equals])) else { return nil }
        let valueEnd = text[equals...].firstIndex { $0 == " " || $0 == "\t" } ?? text.endIndex
        let value = String(text[text.index(after: equals)..<valueEnd])
        return (key, value, text[valueEnd...].drop { $0 == " " || $0 == "\t" })
    }
}
