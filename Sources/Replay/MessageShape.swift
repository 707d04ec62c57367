import Foundation
import LabProtocol
import Protocols

/// What a decoded message *says*, as named fields: an HTTP request's `method`, `path`, each
/// `query NAME`, each `header NAME` and each JSON leaf of its body (`$.items[0].id`); a RESP
/// command and its arguments; a PostgreSQL turn's statements and bound parameters. The mock
/// matches requests by these fields and replay compares responses by them, so both leave out the
/// same noise (`MatchRules`) and name a difference the same way (`header Date`, `$.id`).
///
/// Pure: built from a message's bytes alone (the store's redacted bytes or the wire's).
public struct MessageShape: Sendable, Equatable {
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public var fields: [Field]

    public init(_ fields: [Field]) {
        self.fields = fields
    }

    /// What requests are matched by: every field but headers and what `rules` leave out, in a
    /// canonical order (query parameters and JSON object keys sorted), as one string.
    public func matchKey(_ rules: MatchRules) -> String {
        var key = ""
        for field in fields where !field.name.hasPrefix("header ") && !rules.ignores(field.name) {
            key += field.name
            key += "\u{1F}"
            key += field.value
            key += "\u{1E}"
        }
        return key
    }

    /// The fields that differ between `self` (expected) and `other`, in `self`'s order then the
    /// ones only `other` has; `includeHeaders` false leaves headers out (the mock does not match on them).
    public func differences(from other: MessageShape, rules: MatchRules, includeHeaders: Bool = true) -> [FieldDifference] {
        let considered = { (field: Field) in (includeHeaders || !field.name.hasPrefix("header ")) && !rules.ignores(field.name) }
        let actual = Dictionary(other.fields.filter(considered).map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        var names = Set<String>()
        var differences: [FieldDifference] = []
        for field in fields where considered(field) {
            names.insert(field.name)
            if actual[field.name] != field.value { differences.append(FieldDifference(name: field.name, expected: field.value, actual: actual[field.name])) }
        }
        for field in other.fields where considered(field) && !names.contains(field.name) {
            differences.append(FieldDifference(name: field.name, expected: nil, actual: field.value))
        }
        return differences
    }

    public subscript(name: String) -> String? { fields.first { $0.name == name }?.value }
}

/// A field that differs between what was recorded (`expected`) and what came (`actual`); nil
/// where one side has no such field.
public struct FieldDifference: Sendable, Equatable {
    public var name: String
    public var expected: String?
    public var actual: String?

    public init(name: String, expected: String?, actual: String?) {
        self.name = name
        self.expected = expected
        self.actual = actual
    }

    /// Each side as a report shows it: escaped, cut at 200 characters, quoted unless it is a
    /// JSON value (which reads as itself), `nothing` when absent.
    public var shownExpected: String { Self.shown(expected, json: name.hasPrefix("$")) }
    public var shownActual: String { Self.shown(actual, json: name.hasPrefix("$")) }

    private static func shown(_ value: String?, json: Bool) -> String {
        guard let value else { return "nothing" }
        var escaped = Escaping.escape(Array(value.utf8))
        if escaped.count > 200 { escaped = String(escaped.prefix(200)) + "…" }
        return json ? escaped : "\"" + escaped + "\""
    }
}

extension MessageShape {
    /// The protocols whose messages have shapes.
    public static let protocolNames: Set<String> = [HTTP1Protocol.name, RESPProtocol.name, PostgresProtocol.name]

    /// What a client asked in one request, by field: HTTP and RESP by themselves, anything else as
    /// PostgreSQL, with the statements the connection prepared before (`statements`).
    public static func request(_ raw: [UInt8], protocolName: String, statements: inout PostgresStatements) -> MessageShape? {
        switch protocolName {
        case HTTP1Protocol.name: httpRequest(raw)
        case RESPProtocol.name: respCommand(raw)
        default: statements.shape(raw)
        }
    }

    /// What a server said after one request (its bytes as recorded or received), by field; nil
    /// for protocols without shapes or bytes that are not the protocol.
    public static func response(_ raw: [UInt8], protocolName: String) -> MessageShape? {
        switch protocolName {
        case HTTP1Protocol.name: httpResponse(raw)
        case RESPProtocol.name: respReply(raw)
        case PostgresProtocol.name: postgresResponse(raw)
        default: nil
        }
    }
}

// MARK: HTTP

extension MessageShape {
    /// An HTTP request: `method`, `path`, `query NAME` (sorted by name), `header NAME` (lower-cased,
    /// in order), then the body: JSON leaves by path, or `body`. Nil when the bytes are no HTTP head.
    public static func httpRequest(_ raw: [UInt8]) -> MessageShape? {
        guard let head = HTTPHead(raw), head.startLine.count == 3 else { return nil }
        var fields = [Field("method", head.startLine[0])]
        let target = head.startLine[1]
        var path = Substring(target)
        if let scheme = path.range(of: "://") {
            // Absolute form (a proxy's request): the host is not part of what is asked.
            let rest = path[scheme.upperBound...]
            path = rest.firstIndex(of: "/").map { rest[$0...] } ?? "/"
        }
        var query: Substring = ""
        if let question = path.firstIndex(of: "?") {
            query = path[path.index(after: question)...]
            path = path[..<question]
        }
        fields.append(Field("path", String(path)))
        fields += queryFields(query)
        fields += head.headerFields
        fields += bodyFields(head.body(of: raw))
        return MessageShape(fields)
    }

    /// An HTTP response: `status`, `header NAME`, then the body as a request's.
    public static func httpResponse(_ raw: [UInt8]) -> MessageShape? {
        guard let head = HTTPHead(raw), head.startLine.count >= 2 else { return nil }
        return MessageShape([Field("status", head.startLine[1])] + head.headerFields + bodyFields(head.body(of: raw)))
    }

    /// Query parameters by name, sorted (their order does not matter); a name given several times
    /// keeps its values in order.
    static func queryFields(_ query: Substring) -> [Field] {
        guard !query.isEmpty else { return [] }
        var values: [String: [String]] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) in text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text) }
            values[decode(parts[0]), default: []].append(parts.count > 1 ? decode(parts[1]) : "")
        }
        return values.keys.sorted().map { Field("query \($0)", values[$0]!.joined(separator: "&")) }
    }

    /// A JSON body as its leaves (compared as JSON: key order and spacing do not matter), any
    /// other body as `body`, escaped.
    static func bodyFields(_ body: [UInt8]) -> [Field] {
        guard !body.isEmpty else { return [] }
        if let first = body.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }),
           first == UInt8(ascii: "{") || first == UInt8(ascii: "["),
           let value = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        {
            var fields: [Field] = []
            jsonLeaves(value, path: [], into: &fields)
            return fields
        }
        return [Field("body", Escaping.escape(body))]
    }

    private static func jsonLeaves(_ value: Any, path: [JSONPath.Step], into fields: inout [Field]) {
        if let object = value as? [String: Any], !object.isEmpty {
            for key in object.keys.sorted() { jsonLeaves(object[key]!, path: path + [.key(key)], into: &fields) }
        } else if let array = value as? [Any], !array.isEmpty {
            for (index, element) in array.enumerated() { jsonLeaves(element, path: path + [.index(index)], into: &fields) }
        } else {
            let text = (try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]))
                .map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
            fields.append(Field(JSONPath.name(path), text))
        }
    }
}

/// An HTTP message's start line and header fields, read from its bytes.
struct HTTPHead {
    var startLine: [String]
    var headers: [(name: String, value: String)] = []
    /// Where the body starts.
    var bodyOffset: Int

    init?(_ raw: [UInt8]) {
        var index = raw.firstIndex { $0 != 0x0D && $0 != 0x0A } ?? raw.count
        var lines: [String] = []
        while true {
            guard let end = raw[index...].firstIndex(of: 0x0A) else { return nil }
            var line = raw[index..<end]
            if line.last == 0x0D { line = line.dropLast() }
            index = end + 1
            if line.isEmpty { break }
            lines.append(String(decoding: line, as: UTF8.self))
        }
        guard let first = lines.first else { return nil }
        startLine = first.split(separator: " ", maxSplits: 2).map(String.init)
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        bodyOffset = index
    }

    func value(_ name: String) -> String? { headers.first { $0.name == name }?.value }

    /// Header fields in order; a repeated name's values joined by `, ` (as HTTP reads them).
    var headerFields: [MessageShape.Field] {
        var order: [String] = []
        var values: [String: String] = [:]
        for (name, value) in headers {
            if let earlier = values[name] { values[name] = earlier + ", " + value } else { order.append(name); values[name] = value }
        }
        return order.map { MessageShape.Field("header \($0)", values[$0]!) }
    }

    func body(of raw: [UInt8]) -> [UInt8] {
        let body = Array(raw[min(bodyOffset, raw.count)...])
        return value("transfer-encoding")?.lowercased().hasSuffix("chunked") == true ? HTTP1Protocol.dechunked(body) : body
    }
}

// MARK: RESP

extension MessageShape {
    /// A RESP command: `command` (upper-cased) and `argument 1…N`. Nil when not a command.
    public static func respCommand(_ raw: [UInt8]) -> MessageShape? {
        guard let words = respWords(raw), let command = words.first else { return nil }
        var fields = [Field("command", Escaping.escape(command).uppercased())]
        for (index, argument) in words.dropFirst().enumerated() { fields.append(Field("argument \(index + 1)", Escaping.escape(argument))) }
        return MessageShape(fields)
    }

    /// A RESP reply: `reply`, its bytes escaped.
    public static func respReply(_ raw: [UInt8]) -> MessageShape {
        MessageShape([Field("reply", Escaping.escape(raw))])
    }
}

/// The words of one RESP command: a multibulk array of bulk strings, or an inline line.
func respWords(_ raw: [UInt8]) -> [[UInt8]]? {
    func line(from start: Int) -> (text: ArraySlice<UInt8>, next: Int)? {
        guard let end = raw[start...].firstIndex(of: 0x0A) else { return nil }
        let text = raw[start..<end]
        return (text.last == 0x0D ? text.dropLast() : text, end + 1)
    }
    guard raw.first == UInt8(ascii: "*") else {
        let text = line(from: 0)?.text ?? raw[...]
        return text.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).map(Array.init)
    }
    guard let (header, afterHeader) = line(from: 0), let count = Int(String(decoding: header.dropFirst(), as: UTF8.self)), count >= 0
    else { return nil }
    var words: [[UInt8]] = []
    var index = afterHeader
    for _ in 0..<count {
        guard let (lengthLine, afterLength) = line(from: index), lengthLine.first == UInt8(ascii: "$"),
              let length = Int(String(decoding: lengthLine.dropFirst(), as: UTF8.self)), length >= 0,
              afterLength + length <= raw.count
        else { return nil }
        words.append(Array(raw[afterLength..<(afterLength + length)]))
        index = afterLength + length + 2
    }
    return words
}

// MARK: PostgreSQL

extension MessageShape {
    /// A PostgreSQL server turn: `row N column NAME` for each value of each DataRow (rows counted
    /// from 1 across the turn), `tag` (`tag 2`… for more), `error sqlstate` and `error message`,
    /// `transaction` (the ReadyForQuery status). Nil for bytes that are not typed messages.
    public static func postgresResponse(_ raw: [UInt8]) -> MessageShape? {
        var fields: [Field] = []
        var columns: [String] = []
        var rows = 0
        var tags = 0
        guard let messages = PostgresMessages.typed(raw) else { return nil }
        for (type, bytes, _) in messages {
            var body = PostgresBody(bytes)
            switch type {
            case UInt8(ascii: "T"):
                columns = []
                for _ in 0..<max(0, body.int16() ?? 0) {
                    columns.append(body.cString() ?? "?")
                    _ = body.take(18)
                }
            case UInt8(ascii: "D"):
                rows += 1
                for column in 0..<max(0, body.int16() ?? 0) {
                    let name = column < columns.count ? columns[column] : String(column + 1)
                    guard let length = body.int32() else { break }
                    let value = length < 0 ? "NULL" : body.take(length).map { Escaping.escape($0) } ?? ""
                    fields.append(Field("row \(rows) column \(name)", value))
                }
            case UInt8(ascii: "C"):
                tags += 1
                fields.append(Field(tags == 1 ? "tag" : "tag \(tags)", body.cString() ?? ""))
            case UInt8(ascii: "E"):
                while let code = body.byte(), code != 0, let value = body.cString() {
                    if code == UInt8(ascii: "C") { fields.append(Field("error sqlstate", value)) }
                    if code == UInt8(ascii: "M") { fields.append(Field("error message", value)) }
                }
            case UInt8(ascii: "Z"):
                fields.append(Field("transaction", body.byte().map { String(UnicodeScalar($0)) } ?? ""))
            default:
                break
            }
        }
        return MessageShape(fields)
    }
}

/// The prepared statements a PostgreSQL connection has named so far (`Parse` then `Bind` by
/// name), so a turn that only binds and executes is known by its statement's text.
public struct PostgresStatements: Sendable {
    private var texts: [String: String] = [:]

    public init() {}

    /// A client turn's messages: `statement` (whitespace-normalised; `statement 2`… for more),
    /// `parameter N` of each Bind (`bind 2 parameter N`…), and `messages`, the turn's message
    /// types. Statement and portal names are left out: clients number them as they please.
    /// Nil for bytes that are not typed PostgreSQL messages.
    public mutating func shape(_ raw: [UInt8]) -> MessageShape? {
        var statements: [String] = []
        var types: [String] = []
        var binds = 0
        var parameters: [MessageShape.Field] = []
        func addStatement(_ text: String) {
            if statements.last != text { statements.append(text) }
        }
        guard let messages = PostgresMessages.typed(raw) else { return nil }
        for (type, bytes, _) in messages {
            var body = PostgresBody(bytes)
            types.append(String(UnicodeScalar(type)))
            switch type {
            case UInt8(ascii: "Q"):
                addStatement(Self.normalised(body.cString() ?? ""))
            case UInt8(ascii: "P"):
                let name = body.cString() ?? ""
                let text = Self.normalised(body.cString() ?? "")
                texts[name] = text
                addStatement(text)
            case UInt8(ascii: "B"):
                _ = body.cString()  // portal
                let name = body.cString() ?? ""
                addStatement(texts[name] ?? "")
                binds += 1
                let prefix = binds == 1 ? "" : "bind \(binds) "
                for (number, value) in (body.bindParameters() ?? []).enumerated() {
                    parameters.append(MessageShape.Field("\(prefix)parameter \(number + 1)", value.map { Escaping.escape($0) } ?? "NULL"))
                }
            case UInt8(ascii: "D"):
                if body.byte() == UInt8(ascii: "S"), let name = body.cString() { addStatement(texts[name] ?? "") }
            default:
                break
            }
        }
        var fields: [MessageShape.Field] = []
        for (number, statement) in statements.enumerated() {
            fields.append(MessageShape.Field(number == 0 ? "statement" : "statement \(number + 1)", statement))
        }
        fields += parameters
        fields.append(MessageShape.Field("messages", types.joined()))
        return MessageShape(fields)
    }

    /// Runs of whitespace outside quotes become one space; leading and trailing ones go.
    static func normalised(_ sql: String) -> String {
        var text = ""
        var quote: Character?
        var pendingSpace = false
        for character in sql {
            if let open = quote {
                text.append(character)
                if character == open { quote = nil }
                continue
            }
            if character.isWhitespace {
                pendingSpace = !text.isEmpty
                continue
            }
            if pendingSpace { text.append(" ") }
            pendingSpace = false
            if character == "'" || character == "\"" { quote = character }
            text.append(character)
        }
        return text
    }
}

public enum PostgresMessages {
    /// Typed PostgreSQL messages (a type byte, a length word, the body), in order; nil unless
    /// `raw` is exactly a run of them.
    public static func typed(_ raw: [UInt8]) -> [(type: UInt8, body: ArraySlice<UInt8>, whole: ArraySlice<UInt8>)]? {
        var messages: [(type: UInt8, body: ArraySlice<UInt8>, whole: ArraySlice<UInt8>)] = []
        var index = 0
        while index < raw.count {
            guard index + 5 <= raw.count else { return nil }
            let length = PostgresInt32.read(raw, at: index + 1)
            guard length >= 4, index + 1 + length <= raw.count else { return nil }
            messages.append((raw[index], raw[(index + 5)..<(index + 1 + length)], raw[index..<(index + 1 + length)]))
            index += 1 + length
        }
        return messages
    }
}

/// Reads the body of one PostgreSQL message.
struct PostgresBody {
    private var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
    }


    mutating func cString() -> String? {
        guard let end = bytes.firstIndex(of: 0) else { return nil }
        defer { bytes = bytes[(end + 1)...] }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    mutating func byte() -> UInt8? { bytes.popFirst() }

    mutating func int16() -> Int? {
        guard bytes.count >= 2 else { return nil }
        defer { bytes = bytes.dropFirst(2) }
        return Int(Int16(bitPattern: UInt16(bytes[bytes.startIndex]) << 8 | UInt16(bytes[bytes.startIndex + 1])))
    }

    mutating func int32() -> Int? {
        guard bytes.count >= 4 else { return nil }
        let start = bytes.startIndex
        defer { bytes = bytes.dropFirst(4) }
        return Int(Int32(bitPattern: UInt32(bytes[start]) << 24 | UInt32(bytes[start + 1]) << 16 | UInt32(bytes[start + 2]) << 8 | UInt32(bytes[start + 3])))
    }

    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, bytes.count >= count else { return nil }
        defer { bytes = bytes.dropFirst(count) }
        return bytes.prefix(count)
    }

    /// A Bind's parameter values after its names: nil for NULL.
    mutating func bindParameters() -> [ArraySlice<UInt8>?]? {
        guard let formats = int16(), formats >= 0 else { return nil }
        for _ in 0..<formats { guard int16() != nil else { return nil } }
        guard let count = int16(), count >= 0 else { return nil }
        var values: [ArraySlice<UInt8>?] = []
        for _ in 0..<count {
            guard let length = int32() else { return nil }
            if length < 0 { values.append(nil); continue }
            guard let value = take(length) else { return nil }
            values.append(value)
        }
        return values
    }
}
