/// What a ClientHello says: the name asked for, the protocols offered, its random (what key-log
/// lines are keyed by).
public struct ClientHello: Sendable, Equatable {
    public var serverName: String?
    public var applicationProtocols: [String]
    public var random: [UInt8]
}

/// What a ServerHello says that NIOSSL does not: the cipher suite chosen.
public struct ServerHello: Sendable, Equatable {
    public var cipherSuite: UInt16
}

/// How far a stream's first handshake message got.
public enum HelloScan<Hello: Sendable>: Sendable {
    case incomplete
    /// The bytes are not a TLS handshake (a plain-text client on a TLS port, noise).
    case notTLS
    case malformed
    case hello(Hello)
}

/// Reads hellos off the start of a TLS byte stream; pure, so fuzzable and testable without sockets.
public enum TLSHelloParser {
    /// A hello is at most this big here; a longer one is `malformed` (real ones are a few KiB).
    public static let maxHelloBytes = 64 * 1024

    public static func clientHello(_ stream: some Collection<UInt8>) -> HelloScan<ClientHello> {
        firstMessage(stream, type: 1).map(parseClientHello)
    }

    public static func serverHello(_ stream: some Collection<UInt8>) -> HelloScan<ServerHello> {
        firstMessage(stream, type: 2).map(parseServerHello)
    }

    /// The body of the first handshake message, reassembled from the records it spans.
    static func firstMessage(_ stream: some Collection<UInt8>, type: UInt8) -> HelloScan<[UInt8]> {
        var bytes = ByteCursor(Array(stream.prefix(maxHelloBytes + 1024)))
        var handshake: [UInt8] = []
        while true {
            guard let contentType = bytes.u8() else { break }
            // A handshake record whose version starts with 3 (SSL 3.0 to TLS 1.3 all do).
            guard contentType == 22 else { return handshake.isEmpty ? .notTLS : .malformed }
            guard let major = bytes.u8(), let _ = bytes.u8(), let length = bytes.u16() else { break }
            guard major == 3, length > 0 else { return .notTLS }
            guard let fragment = bytes.take(Int(length)) else { break }
            handshake += fragment
            if handshake.count >= 4 {
                guard handshake[0] == type else { return .malformed }
                let size = Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3])
                guard size <= maxHelloBytes else { return .malformed }
                if handshake.count >= 4 + size { return .hello(Array(handshake[4..<4 + size])) }
            }
        }
        return stream.count > maxHelloBytes + 1024 ? .malformed : .incomplete
    }

    static func parseClientHello(_ body: [UInt8]) -> ClientHello? {
        var hello = ByteCursor(body)
        guard hello.skip(2), let random = hello.take(32), hello.skipVector(lengthBytes: 1),
              hello.skipVector(lengthBytes: 2), hello.skipVector(lengthBytes: 1) else { return nil }
        var result = ClientHello(serverName: nil, applicationProtocols: [], random: random)
        guard let extensions = hello.vector(lengthBytes: 2) else { return result }
        var cursor = ByteCursor(extensions)
        while let kind = cursor.u16(), let data = cursor.vector(lengthBytes: 2) {
            var value = ByteCursor(data)
            switch kind {
            case 0x0000:  // server_name: a list of (type, name); type 0 is a host name
                guard var names = value.vector(lengthBytes: 2).map(ByteCursor.init) else { return nil }
                while let nameType = names.u8(), let name = names.vector(lengthBytes: 2) {
                    if nameType == 0 { result.serverName = String(decoding: name, as: UTF8.self) }
                }
            case 0x0010:  // application_layer_protocol_negotiation
                guard var protocols = value.vector(lengthBytes: 2).map(ByteCursor.init) else { return nil }
                while let name = protocols.vector(lengthBytes: 1) {
                    result.applicationProtocols.append(String(decoding: name, as: UTF8.self))
                }
            default:
                break
            }
        }
        return result
    }

    static func parseServerHello(_ body: [UInt8]) -> ServerHello? {
        var hello = ByteCursor(body)
        guard hello.skip(2 + 32), hello.skipVector(lengthBytes: 1), let cipher = hello.u16() else { return nil }
        return ServerHello(cipherSuite: cipher)
    }
}

extension HelloScan {
    func map<T>(_ parse: (Hello) -> T?) -> HelloScan<T> {
        switch self {
        case .incomplete: .incomplete
        case .notTLS: .notTLS
        case .malformed: .malformed
        case .hello(let body): parse(body).map { .hello($0) } ?? .malformed
        }
    }
}

/// Big-endian reads that return nil past the end instead of trapping.
struct ByteCursor {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func u8() -> UInt8? { take(1)?.first }

    mutating func u16() -> UInt16? {
        take(2).map { UInt16($0[0]) << 8 | UInt16($0[1]) }
    }

    mutating func take(_ count: Int) -> [UInt8]? {
        guard count >= 0, bytes.count - offset >= count else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func skip(_ count: Int) -> Bool { take(count) != nil }

    /// A length-prefixed vector, the length `lengthBytes` long.
    mutating func vector(lengthBytes: Int) -> [UInt8]? {
        guard let prefix = take(lengthBytes) else { return nil }
        return take(prefix.reduce(0) { $0 << 8 | Int($1) })
    }

    mutating func skipVector(lengthBytes: Int) -> Bool { vector(lengthBytes: lengthBytes) != nil }
}
