import Foundation
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
/// units, plus wirelog's own (`cut`, `hang`, `http_status`, `resp_error`: docs/FAULTS.md).
public enum ToxicType: String, Sendable, CaseIterable {
    case latency, bandwidth, slowClose = "slow_close", timeout, resetPeer = "reset_peer", slicer
    case limitData = "limit_data", cut, hang, httpStatus = "http_status", respError = "resp_error"

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
        case .respError: []
        }
    }
}

/// A toxic as configured: toxiproxy's ToxicWrapper (name, type, stream, toxicity, attributes),
/// and wirelog's optional condition on the client's address.
public struct Toxic: Sendable, Equatable {
    public var name: String
    public var type: ToxicType
    public var stream: ToxicStream
    /// The chance (0–1) that a connection gets this toxic, drawn once per connection.
    public var toxicity: Double
    /// Every attribute of `type`, missing ones 0 (as toxiproxy's zero values).
    public var attributes: [String: Int64]
    /// Only connections from these clients get it (nil: all).
    public var clients: ClientCondition?

    public init(name: String? = nil, type: ToxicType, stream: ToxicStream = .downstream, toxicity: Double = 1,
                attributes: [String: Int64] = [:], clients: ClientCondition? = nil) {
        self.name = name ?? "\(type.rawValue)_\(stream.rawValue)"
        self.type = type
        self.stream = stream
        self.toxicity = toxicity
        self.attributes = Dictionary(uniqueKeysWithValues: type.attributeNames.map { ($0, attributes[$0] ?? 0) })
        self.clients = clients
    }

    public subscript(attribute: String) -> Int64 { attributes[attribute] ?? 0 }

    /// toxiproxy's JSON form: `{"attributes":{…},"name":…,"type":…,"stream":…,"toxicity":…}`.
    public var json: String {
        let attributes = type.attributeNames.map { "\(JSONText.quoted($0)):\(self[$0])" }.joined(separator: ",")
        let condition = clients.map { ",\"condition\":{\"client\":\(JSONText.quoted($0.description))}" } ?? ""
        return "{\"attributes\":{\(attributes)},\"name\":\(JSONText.quoted(name)),\"type\":\(JSONText.quoted(type.rawValue)),"
            + "\"stream\":\(JSONText.quoted(stream.rawValue)),\"toxicity\":\(Self.number(toxicity))\(condition)}"
    }

    /// What it does, for people and for the session's record: `latency 100 ms ± 10 ms downstream`.
    public var summary: String {
        let values = type.attributeNames.map { "\($0)=\(self[$0])" }.joined(separator: ",")
        return "\(type.rawValue):\(values),stream=\(stream.rawValue)\(toxicity < 1 ? ",toxicity=\(Self.number(toxicity))" : "")"
    }

    /// As Go writes a float32: no trailing `.0`.
    static func number(_ value: Double) -> String {
        let float = Float(value)
        return float == float.rounded() && abs(float) < 1e15 ? String(Int64(float)) : "\(float)"
    }
}

/// A client address range (`10.0.0.0/8`, `::1/128`, or one address): wirelog's condition on toxics.
public struct ClientCondition: Sendable, Equatable, CustomStringConvertible {
    private let network: [UInt8]
    private let prefixLength: Int
    public let description: String

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let address = Self.bytes(String(first)) else { return nil }
        let length = parts.count == 2 ? Int(parts[1]) : address.count * 8
        guard let length, (0...(address.count * 8)).contains(length) else { return nil }
        network = address
        prefixLength = length
        description = text
    }

    /// Whether `address` (an IPv4 or IPv6 address in text) is in the range.
    public func contains(_ address: String) -> Bool {
        guard var bytes = Self.bytes(address) else { return false }
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

    private static func bytes(_ text: String) -> [UInt8]? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        if !text.contains(":") {
            guard octets.count == 4 else { return nil }
            let values = octets.compactMap { UInt8($0) }
            return values.count == 4 ? values : nil
        }
        return IPv6Text.bytes(text)
    }
}

/// IPv6 text (RFC 4291 forms, with `::` and an IPv4 tail) to its 16 bytes.
enum IPv6Text {
    static func bytes(_ text: String) -> [UInt8]? {
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, piece.contains(".") {
                    let octets = piece.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
                    guard octets.count == 4 else { return nil }
                    result += [UInt16(octets[0]) << 8 | UInt16(octets[1]), UInt16(octets[2]) << 8 | UInt16(octets[3])]
                } else {
                    guard piece.count <= 4, let value = UInt16(piece, radix: 16) else { return nil }
                    result.append(value)
                }
            }
            return result
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
            all += Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
}
