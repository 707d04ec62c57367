import Recording

/// The protocol filters, as people give them: the CLI's `--method`, `--status 5xx`, `--path`, …
/// and the web viewer's query parameters of the same names. One reading for both.
public struct ProtocolFilterArguments: Sendable, Equatable {
    /// A protocol name (`http`, `resp`, …), checked against `protocols` by `narrowing`.
    public var decoding: String?
    public var method: String?
    public var command: String?
    /// `404` or a class, `5xx`.
    public var status: String?
    /// A prefix of the HTTP request target, or a glob (`* ? […]`).
    public var path: String?
    public var sqlstate: String?
    /// `name=value`, each.
    public var fields: [String]
    /// A length of time (`TimeSpan`).
    public var slowerThan: String?

    public init(decoding: String? = nil, method: String? = nil, command: String? = nil, status: String? = nil,
                path: String? = nil, sqlstate: String? = nil, fields: [String] = [], slowerThan: String? = nil) {
        self.decoding = decoding
        self.method = method
        self.command = command
        self.status = status
        self.path = path
        self.sqlstate = sqlstate
        self.fields = fields
        self.slowerThan = slowerThan
    }

    /// `filter` narrowed by these filters; a verb from `method`/`command` must agree with its verb.
    /// `protocols`: the names `decoding` may take.
    public func narrowing(_ filter: SessionFilter, protocols: [String]) throws(InputError) -> SessionFilter {
        var filter = filter
        if let decoding {
            guard protocols.contains(decoding) else {
                throw InputError("--decoding: no protocol \"\(decoding)\"; one of \(protocols.joined(separator: ", "))")
            }
            filter.decoding = decoding
        }
        if let method, let command, method.uppercased() != command.uppercased() {
            throw InputError("--method and --command both name the request's verb; give one")
        }
        if let verb = method ?? command {
            if let given = filter.verb, given.uppercased() != verb.uppercased() {
                throw InputError("--verb \(given) and --\(method != nil ? "method" : "command") \(verb) cannot both hold: give one")
            }
            filter.verb = verb
        }
        if let status {
            guard let range = Self.statusRange(status) else {
                throw InputError("--status takes a status (404) or a class (5xx), not \"\(status)\"")
            }
            if range.count == 1 { filter.replyCode = range.lowerBound } else { filter.replyCodeRange = range }
        }
        if let path {
            let isGlob = path.contains { "*?[".contains($0) }
            filter.fields.append(FieldMatch(name: "target", .glob(isGlob ? path : Self.globEscaped(path) + "*")))
        }
        if let sqlstate { filter.fields.append(FieldMatch(name: "sqlstate", .equals(sqlstate.uppercased()))) }
        for field in fields {
            guard let (name, value) = Self.split(field), FieldMatch.isValidName(name) else {
                throw InputError("--field takes name=value with a field name of lower-case letters, digits and _ (docs/PROTOCOLS.md), not \"\(field)\"")
            }
            filter.fields.append(FieldMatch(name: name, .equals(value)))
        }
        if let slowerThan {
            guard let span = TimeSpan(argument: slowerThan) else {
                throw InputError("--slower-than takes a length of time (\(TimeSpan.forms)), not \"\(slowerThan)\"")
            }
            filter.slowerThanMicros = span.microseconds
        }
        return filter
    }

    /// `404` or `5xx`.
    static func statusRange(_ text: String) -> ClosedRange<Int>? {
        let lower = text.lowercased()
        if lower.count == 3, lower.hasSuffix("xx"), let digit = Int(lower.prefix(1)), (1...5).contains(digit) {
            return (digit * 100)...(digit * 100 + 99)
        }
        guard let code = Int(text), (100...999).contains(code) else { return nil }
        return code...code
    }

    private static func split(_ field: String) -> (String, String)? {
        guard let equals = field.firstIndex(of: "=") else { return nil }
        return (String(field[..<equals]), String(field[field.index(after: equals)...]))
    }

    /// A literal for GLOB: each special character in a class of its own.
    private static func globEscaped(_ text: String) -> String {
        text.map { "*?[".contains($0) ? "[\($0)]" : String($0) }.joined()
    }
}
