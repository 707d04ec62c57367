import Foundation
import Protocols
import Recording

/// Which way a toxic acts, in toxiproxy's words: `upstream` is what the client sends to the
/// server, `downstream` what the server sends back; `both` (wirelog's) is one toxic on each.
public enum ToxicStream: String, Sendable, CaseIterable {
    case upstream, downstream, both

    func covers(_ direction: ToxicDirection) -> Bool {
        self == .both || rawValue == direction.rawValue
    }
}

/// One direction of a connection: the channel a toxic of this direction writes to is the
/// upstream's for `upstream`, the client's for `downstream`.
public enum ToxicDirection: String, Sendable, CaseIterable {
    case upstream, downstream
}

/// The toxics wirelog knows, with toxiproxy's names, attributes (in toxiproxy's JSON order) and
/// units, plus wirelog's own (`cut`, `hang`, `http_status`, `resp_error`, `pg_error`,
/// `drop_after`: docs/FAULTS.md).
public enum ToxicType: String, Sendable, CaseIterable {
    case latency, bandwidth, slowClose = "slow_close", timeout, resetPeer = "reset_peer", slicer
    case limitData = "limit_data", cut, hang, httpStatus = "http_status", respError = "resp_error"
    case pgError = "pg_error", dropAfter = "drop_after"

    /// The attribute names, in the order toxiproxy writes them.
    public var attributeNames: [String] {
        switch self {
        case .latency: ["latency", "jitter"]
        case .bandwidth: ["rate"]
        case .slowClose: ["delay"]
        case .timeout, .resetPeer: ["timeout"]
        case .slicer: ["average_size", "size_variation", "delay"]
        case .limitData: ["bytes"]
        case .cut: ["after"]
        case .hang: ["after_bytes"]
        case .httpStatus: ["status"]
        case .respError: ["error"]
        case .pgError: ["sqlstate", "message"]
        case .dropAfter: ["exchanges"]
        }
    }

    /// The text attributes and what they are when not given; every other attribute is a number
    /// (0 when not given, as toxiproxy's zero values).
    public var textDefaults: [String: String] {
        switch self {
        case .respError: ["error": "ERR wirelog fault"]
        case .pgError: ["sqlstate": "40001", "message": "wirelog fault"]
        default: [:]
        }
    }

    /// The toxics that read the client's requests, and so take conditions on their fields.
    public var readsRequests: Bool { [.httpStatus, .respError, .pgError, .dropAfter].contains(self) }

    /// The protocol a request-reading toxic decodes; nil for `drop_after`, which decodes the one
    /// the client speaks.
    var requestProtocol: (any WireProtocol.Type)? {
        switch self {
        case .httpStatus: HTTP1Protocol.self
        case .respError: RESPProtocol.self
        case .pgError: PostgresProtocol.self
        default: nil
        }
    }
}

/// An attribute's value: toxiproxy's are whole numbers; wirelog's protocol faults also take text
/// (a SQLSTATE, a RESP error), which toxiproxy's clients pass through as any JSON value.
public enum ToxicAttribute: Sendable, Equatable, ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, CustomStringConvertible {
    case number(Int64)
    case text(String)

    public init(integerLiteral value: Int64) { self = .number(value) }
    public init(stringLiteral value: String) { self = .text(value) }

    /// The number, 0 for text.
    public var numberValue: Int64 {
        if case .number(let value) = self { value } else { 0 }
    }

    public var description: String {
        switch self {
        case .number(let value): String(value)
        case .text(let value): value
        }
    }

    var json: String {
        switch self {
        case .number(let value): String(value)
        case .text(let value): JSONText.quoted(value)
        }
    }
}

/// A toxic as configured: toxiproxy's ToxicWrapper (name, type, stream, toxicity, attributes),
/// and wirelog's optional conditions on the client's address and on its requests' fields.
public struct Toxic: Sendable, Equatable {
    public var name: String
    public var type: ToxicType
    public var stream: ToxicStream
    /// The chance (0–1) that a connection gets this toxic, drawn once per connection.
    public var toxicity: Double
    /// Every attribute of `type`, missing ones 0 or their text default.
    public var attributes: [String: ToxicAttribute]
    /// Only connections from these clients get it (nil: all).
    public var clients: ClientCondition?
    /// Only requests with these fields get it (toxics that read requests only).
    public var requests: RequestCondition

    public init(name: String? = nil, type: ToxicType, stream: ToxicStream = .downstream, toxicity: Double = 1,
                attributes: [String: ToxicAttribute] = [:], clients: ClientCondition? = nil, requests: RequestCondition = RequestCondition()) {
        self.name = name ?? "\(type.rawValue)_\(stream.rawValue)"
        self.type = type
        self.stream = stream
        self.toxicity = toxicity
        let defaults = type.textDefaults
        self.attributes = Dictionary(uniqueKeysWithValues: type.attributeNames.map { name in
            (name, attributes[name] ?? defaults[name].map(ToxicAttribute.text) ?? .number(0))
        })
        self.clients = clients
        self.requests = requests
    }

    /// A number attribute (0 for a text one).
    public subscript(attribute: String) -> Int64 { attributes[attribute]?.numberValue ?? 0 }

    /// A text attribute.
    public func text(_ attribute: String) -> String { attributes[attribute]?.description ?? "" }

    /// toxiproxy's JSON form: `{"attributes":{…},"name":…,"type":…,"stream":…,"toxicity":…}`,
    /// then wirelog's `condition` when it has one.
    public var json: String {
        let attributes = type.attributeNames.map { "\(JSONText.quoted($0)):\(self.attributes[$0]?.json ?? "0")" }.joined(separator: ",")
        let conditions = (clients.map { [("client", $0.description)] } ?? []) + requests.patterns
        let condition = conditions.isEmpty ? ""
            : ",\"condition\":{" + conditions.map { "\(JSONText.quoted($0.0)):\(JSONText.quoted($0.1))" }.joined(separator: ",") + "}"
        return "{\"attributes\":{\(attributes)},\"name\":\(JSONText.quoted(name)),\"type\":\(JSONText.quoted(type.rawValue)),"
            + "\"stream\":\(JSONText.quoted(stream.rawValue)),\"toxicity\":\(Self.number(toxicity))\(condition)}"
    }

    /// Its type and settings, for people and for the session's record:
    /// `latency:latency=100,jitter=10,stream=downstream`.
    public var summary: String {
        let values = (type.attributeNames.map { ($0, attributes[$0]?.description ?? "0") } + requests.patterns)
            .map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        return "\(type.rawValue):\(values),stream=\(stream.rawValue)\(toxicity < 1 ? ",toxicity=\(Self.number(toxicity))" : "")"
    }

    /// As Go writes a float32: no trailing `.0`.
    static func number(_ value: Double) -> String {
        let float = Float(value)
        return float == float.rounded() && abs(float) < 1e15 ? String(Int64(float)) : "\(float)"
    }
}

/// wirelog's conditions on a request's decoded fields (docs/PROTOCOLS.md): each a pattern where
/// `*` stands for any run of characters and `?` for one. A request gets the toxic when every
/// pattern matches; a field its protocol does not have never matches.
public struct RequestCondition: Sendable, Equatable {
    /// Each field, the protocol that decodes it, and whether it is compared ignoring case.
    static let fields: [(name: String, protocol: String, ignoresCase: Bool)] = [
        ("method", HTTP1Protocol.name, true), ("path", HTTP1Protocol.name, false),
        ("command", RESPProtocol.name, true), ("query", PostgresProtocol.name, true),
    ]

    private var byField: [String: String] = [:]

    public init(_ patterns: [String: String] = [:]) {
        byField = patterns
    }

    public var isEmpty: Bool { byField.isEmpty }

    /// (field, pattern) in the fields' order.
    public var patterns: [(String, String)] {
        Self.fields.compactMap { field in byField[field.name].map { (field.name, $0) } }
    }

    /// Whether `request`, decoded by `protocolName`, has fields matching every pattern.
    func matches(_ request: DecodedMessage, protocolName: String) -> Bool {
        Self.fields.allSatisfy { field in
            guard let pattern = byField[field.name] else { return true }
            guard field.protocol == protocolName, let value = Self.value(of: field.name, in: request) else { return false }
            return field.ignoresCase ? Glob.matches(value.lowercased(), pattern.lowercased()) : Glob.matches(value, pattern)
        }
    }

    private static func value(of field: String, in request: DecodedMessage) -> String? {
        let text = { (name: String) in request.fields[field: name]?.text }
        switch field {
        case "method", "command": return request.verb
        // The path is the target without its query string.
        case "path": return text("target").map { String($0.prefix { $0 != "?" }) }
        // The statement as written, past leading blanks.
        case "query": return text("statement").map { String($0.drop { $0.isWhitespace }) }
        default: return nil
        }
    }
}

/// `*` any run of characters, `?` one character, everything else itself.
enum Glob {
    static func matches(_ text: String, _ pattern: String) -> Bool {
        let text = Array(text), pattern = Array(pattern)
        var (t, p) = (0, 0)
        // Where the last `*` was and how much of the text it has taken: on a mismatch it takes one more.
        var star: (pattern: Int, text: Int)?
        while t < text.count {
            if p < pattern.count, pattern[p] == "?" || pattern[p] == text[t] {
                t += 1
                p += 1
            } else if p < pattern.count, pattern[p] == "*" {
                star = (p, t)
                p += 1
            } else if let last = star {
                star = (last.pattern, last.text + 1)
                p = last.pattern + 1
                t = last.text + 1
            } else {
                return false
            }
        }
        return pattern[p...].allSatisfy { $0 == "*" }
    }
}

/// A client address range (`10.0.0.0/8`, `::1/128`, or one address): wirelog's condition on toxics.
public struct ClientCondition: Sendable, Equatable, CustomStringConvertible {
    private let network: [UInt8]
    private let prefixLength: Int
    public let description: String

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let address = IPAddressText.bytes(String(first)) else { return nil }
        let length = parts.count == 2 ? Int(parts[1]) : address.count * 8
        guard let length, (0...(address.count * 8)).contains(length) else { return nil }
        network = address
        prefixLength = length
        description = text
    }

    /// Whether `address` (an IPv4 or IPv6 address in text) is in the range.
    public func contains(_ address: String) -> Bool {
        guard var bytes = IPAddressText.bytes(address) else { return false }
        // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d.
        if bytes.count == 16, network.count == 4, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == network.count else { return false }
        for bit in 0..<prefixLength where (bytes[bit / 8] ^ network[bit / 8]) & UInt8(0x80 >> (bit % 8)) != 0 {
            return false
        }
        return true
    }
}
