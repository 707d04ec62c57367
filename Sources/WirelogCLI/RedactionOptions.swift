import ArgumentParser
import Backends
import Foundation
import Recording

extension RedactionDirection: ExpressibleByArgument {}

/// What every recording command (serve, proxy, mock, replay --record) hides before storing:
/// regexes, a rules file and presets, added to the rules the store remembers. Checked before
/// anything listens or opens a store.
struct RedactionOptions: ParsableArguments {
    @Option(name: .customLong("redact"), help: ArgumentHelp(
        "Hide what this regular expression matches in the bytes of a message (a capture group marks the part to hide) before it is stored (repeatable; rules are named rule1, rule2, …).",
        valueName: "regex"))
    var patterns: [String] = []

    @Option(name: .customLong("redact-direction"), help: "Which side's messages --redact reads: client, server or both; once for every --redact, or once per --redact in order. (default: both)")
    var directions: [RedactionDirection] = []

    @Option(name: .customLong("redact-file"), help: ArgumentHelp("Rules, one per line: [name=NAME] [direction=client|server|both] REGEX, or preset=NAME (see docs/PROXY.md).", valueName: "file"))
    var file: String?

    @Option(name: .customLong("redact-preset"), help: ArgumentHelp("Hide well-known secrets: \(RedactionPreset.allCases.map(\.rawValue).joined(separator: ", ")) (repeatable).", valueName: "name"))
    var presets: [String] = []

    @Flag(name: .customLong("no-store-rules"), help: "Apply only the rules given here: not the redaction rules the store remembers, and do not add these to them.")
    var noStoreRules = false

    /// Sets a recorder's rules.
    func apply(to settings: inout RecorderSettings) throws {
        settings.redactionRules = try rules()
        settings.useStoreRules = !noStoreRules
    }

    func validate() throws {
        do {
            _ = try rules()
        } catch let error as RedactionRuleError {
            throw ValidationError(error.description)
        }
    }

    /// Every rule, in the order given: --redact, then the file's, then the presets.
    func rules() throws -> [RedactionRule] {
        guard directions.count <= 1 || directions.count == patterns.count else {
            throw ValidationError("--redact-direction: give it once for every --redact, or once per --redact (\(patterns.count) given, \(directions.count) directions)")
        }
        var rules: [RedactionRule] = []
        for (index, pattern) in patterns.enumerated() {
            let direction = directions.count > 1 ? directions[index] : directions.first ?? .both
            rules.append(try RedactionRule(name: "rule\(index + 1)", pattern: pattern, direction: direction))
        }
        if let file {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw ValidationError("--redact-file \(file): cannot read it (\(error.localizedDescription))")
            }
            do {
                rules += try RedactionRule.rules(fromFile: text, firstNumber: patterns.count + 1)
            } catch {
                throw ValidationError("--redact-file \(file): \(error)")
            }
        }
        for name in presets {
            guard let preset = RedactionPreset(rawValue: name) else { throw RedactionRuleError.unknownPreset(name) }
            rules += preset.rules()
        }
        return rules
    }
}
