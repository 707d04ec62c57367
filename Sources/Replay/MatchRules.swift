import Foundation

/// What the mock leaves out when it matches a request, and what replay leaves out when it compares
/// a response: headers, query parameters and JSON fields that are noise (a `Date`, a request id).
/// One format for both, a rules file of one rule per line, so rules learnt by
/// `replay --learn-noise` are used by `replay --rules` and `mock --match-file` alike:
///
/// ```
/// # comments and blank lines are skipped
/// ignore-header Date
/// ignore-query ts
/// ignore-json $.items[*].id
/// ignore-field row 1 column now
/// ```
public struct MatchRules: Sendable, Equatable {
    /// Lower-cased header names.
    public private(set) var headers: Set<String> = []
    public private(set) var queryParameters: Set<String> = []
    public private(set) var jsonPaths: [JSONPath] = []
    /// Any other field by its name (`reply`, `row 1 column now`, `transaction`).
    public private(set) var fields: Set<String> = []

    public init() {}


    /// A rule that leaves out the field named so: a header, a query parameter, a JSON path, else the field itself.
    public mutating func ignore(field name: String) {
        if name.hasPrefix("header ") {
            ignoreHeader(String(name.dropFirst("header ".count)))
        } else if name.hasPrefix("query ") {
            ignoreQuery(String(name.dropFirst("query ".count)))
        } else if name.hasPrefix("$"), let path = try? JSONPath(name) {
            ignoreJSON(path)
        } else {
            fields.insert(name)
        }
    }

    public mutating func ignoreHeader(_ name: String) {
        headers.insert(name.lowercased())
    }

    public mutating func ignoreQuery(_ name: String) {
        queryParameters.insert(name)
    }

    public mutating func ignoreJSON(_ path: JSONPath) {
        if !jsonPaths.contains(path) { jsonPaths.append(path) }
    }

    public mutating func merge(_ other: MatchRules) {
        headers.formUnion(other.headers)
        queryParameters.formUnion(other.queryParameters)
        fields.formUnion(other.fields)
        for path in other.jsonPaths { ignoreJSON(path) }
    }

    /// Whether a field of a `MessageShape` is left out: `header date`, `query ts`, a JSON path.
    public func ignores(_ fieldName: String) -> Bool {
        if fields.contains(fieldName) { return true }
        if fieldName.hasPrefix("header ") { return headers.contains(String(fieldName.dropFirst("header ".count))) }
        if fieldName.hasPrefix("query ") { return queryParameters.contains(String(fieldName.dropFirst("query ".count))) }
        if fieldName.hasPrefix("$"), !jsonPaths.isEmpty, let concrete = try? JSONPath(fieldName) {
            return jsonPaths.contains { $0.matches(concrete) }
        }
        return false
    }

    /// Reads a rules file's text; `source` names it in errors (`rules.txt line 3: …`).
    public init(parsing text: String, source: String) throws(MatchRulesError) {
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: [" ", "\t", "\r"])
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            let value = parts.count > 1 ? parts[1].trimmingCharacters(in: [" ", "\t"]) : ""
            let place = "\(source) line \(index + 1)"
            guard !value.isEmpty else { throw MatchRulesError(place: place, problem: "\"\(parts[0])\" needs a value") }
            switch parts[0] {
            case "ignore-header": ignoreHeader(value)
            case "ignore-query": queryParameters.insert(value)
            case "ignore-field": fields.insert(value)
            case "ignore-json":
                do {
                    ignoreJSON(try JSONPath(value))
                } catch {
                    throw MatchRulesError(place: place, problem: error.description)
                }
            default:
                throw MatchRulesError(place: place, problem: "unknown rule \"\(parts[0])\" (rules are ignore-header NAME, ignore-query NAME, ignore-json PATH, ignore-field NAME)")
            }
        }
    }

    /// The rules of the command line's `--ignore-header`, `--ignore-query`, `--ignore-json` and a
    /// rules `file`, together.
    public static func gathered(headers: [String] = [], query: [String] = [], jsonPaths: [String] = [], file: String?)
        throws(MatchRulesError) -> MatchRules
    {
        var rules = MatchRules()
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw MatchRulesError(place: file, problem: "cannot read the rules file")
            }
            rules = try MatchRules(parsing: String(decoding: data, as: UTF8.self), source: file)
        }
        for name in headers { rules.ignoreHeader(name) }
        for name in query { rules.ignoreQuery(name) }
        for path in jsonPaths {
            do {
                rules.ignoreJSON(try JSONPath(path))
            } catch {
                throw MatchRulesError(place: "--ignore-json", problem: error.description)
            }
        }
        return rules
    }

    /// The rules as a rules file, sorted so the same rules give the same file.
    public var fileText: String {
        var lines = ["# wirelog match rules: one rule per line (ignore-header NAME, ignore-query NAME, ignore-json PATH, ignore-field NAME)"]
        lines += headers.sorted().map { "ignore-header \($0)" }
        lines += queryParameters.sorted().map { "ignore-query \($0)" }
        lines += jsonPaths.map(\.text).sorted().map { "ignore-json \($0)" }
        lines += fields.sorted().map { "ignore-field \($0)" }
        return lines.joined(separator: "\n") + "\n"
    }
}

public struct MatchRulesError: Error, CustomStringConvertible, Equatable {
    public var place: String
    public var problem: String

    public init(place: String, problem: String) {
        self.place = place
        self.problem = problem
    }

    public var description: String { "\(place): \(problem)" }
}

/// The small JSONPath subset the rules take: `$`, then `.name`, `['name']`, `[N]` and `[*]` steps
/// (`$.a.b`, `$.items[*].id`). It matches the paths `MessageShape` names JSON leaves by.
public struct JSONPath: Sendable, Hashable {
    public enum Step: Sendable, Hashable {
        case key(String)
        case index(Int)
        case anyIndex
    }

    public let steps: [Step]
    /// As written.
    public let text: String

    public init(_ text: String) throws(JSONPathError) {
        self.text = text
        var characters = Substring(text)
        guard characters.first == "$" else { throw JSONPathError(path: text, problem: "a path starts with $") }
        characters.removeFirst()
        var steps: [Step] = []
        while let first = characters.first {
            if first == "." {
                characters.removeFirst()
                let name = characters.prefix { $0 != "." && $0 != "[" }
                guard !name.isEmpty else { throw JSONPathError(path: text, problem: "a name must follow \".\"") }
                steps.append(.key(String(name)))
                characters.removeFirst(name.count)
            } else if first == "[" {
                guard let close = characters.firstIndex(of: "]") else { throw JSONPathError(path: text, problem: "\"[\" is not closed") }
                let inside = characters[characters.index(after: characters.startIndex)..<close]
                if inside == "*" {
                    steps.append(.anyIndex)
                } else if let index = Int(inside), index >= 0 {
                    steps.append(.index(index))
                } else if inside.count >= 2, inside.first == "'", inside.last == "'" {
                    steps.append(.key(String(inside.dropFirst().dropLast())))
                } else {
                    throw JSONPathError(path: text, problem: "\"[\(inside)]\" is not [N], [*] or ['name']")
                }
                characters = characters[characters.index(after: close)...]
            } else {
                throw JSONPathError(path: text, problem: "unexpected \"\(first)\" (steps are .name, [N], [*], ['name'])")
            }
        }
        self.steps = steps
    }

    /// The path naming one value, as `MessageShape` names JSON leaves.
    public static func name(_ steps: [Step]) -> String {
        var text = "$"
        for step in steps {
            switch step {
            case .key(let key):
                let plain = !key.isEmpty && key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
                text += plain ? ".\(key)" : "['\(key)']"
            case .index(let index): text += "[\(index)]"
            case .anyIndex: text += "[*]"
            }
        }
        return text
    }

    /// Whether this path names `concrete` (a leaf's path, read once by `ignores` for all the rules)
    /// or a value that holds it.
    public func matches(_ concrete: JSONPath) -> Bool {
        guard concrete.steps.count >= steps.count else { return false }
        return zip(steps, concrete.steps).allSatisfy { pattern, step in
            switch (pattern, step) {
            case (.anyIndex, .index): true
            default: pattern == step
            }
        }
    }
}

public struct JSONPathError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var problem: String

    public var description: String { "JSONPath \"\(path)\": \(problem)" }
}
