import WirelogTLS
/// What one `wirelog bench` run does.
public struct BenchConfiguration: Sendable {
    /// When the measured phase ends.
    public enum Stop: Sendable, Equatable {
        /// Measure for this many microseconds.
        case duration(microseconds: Int64)
        /// Measure exactly this many requests (spread over the connections).
        case requests(Int)
    }

    public var host = "127.0.0.1"
    public var port = 7070
    public var connections = 1
    public var stop = Stop.duration(microseconds: 10_000_000)
    /// Requests sent (and replies awaited) before this much time has passed are not measured.
    public var warmupMicroseconds: Int64 = 0
    /// Requests each connection keeps in flight.
    public var pipeline = 1
    public var request: [UInt8] = Array("DATA 0123456789abcdef\n".utf8)
    /// When set, a reply with other bytes counts as a bad reply.
    public var expect: [UInt8]?
    /// Event-loop threads of the generator.
    public var threads = 1
    /// A connection with requests in flight and no reply for this long counts an error and is closed.
    public var replyTimeoutMicroseconds: Int64 = 10_000_000
    /// With a value: stream this many bytes per connection to an echo server and verify them.
    public var bulkBytes: Int?
    /// Connect with TLS; the handshakes are timed apart from the load.
    public var tls: ClientTLS?

    public init() {}
}

/// Turns `\n`, `\r`, `\t`, `\0`, `\\` and `\xHH` in command-line text into bytes.
public enum ArgumentEscapes {
    public struct InvalidEscape: Error, CustomStringConvertible {
        public let text: String
        public var description: String {
            "invalid escape in \(text.debugDescription): use \\n, \\r, \\t, \\0, \\\\ or \\xHH"
        }
    }

    public static func unescape(_ text: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var input = Array(text.utf8)[...]
        while let byte = input.popFirst() {
            guard byte == UInt8(ascii: "\\") else {
                bytes.append(byte)
                continue
            }
            switch input.popFirst() {
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "0"): bytes.append(0x00)
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "x"):
                guard input.count >= 2, let value = UInt8(String(decoding: input.prefix(2), as: UTF8.self), radix: 16)
                else { throw InvalidEscape(text: text) }
                bytes.append(value)
                input = input.dropFirst(2)
            default: throw InvalidEscape(text: text)
            }
        }
        return bytes
    }
}
