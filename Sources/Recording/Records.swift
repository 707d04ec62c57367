#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Who recorded a session.
public enum SessionKind: String, Sendable, CaseIterable, Codable {
    case server, proxy, replay
    /// Recorded by `wirelog mock`: a client answered from recordings.
    case mock
    /// Read from a file by `wirelog sessions import` (a HAR's exchanges).
    case `import`
}

/// How a session's bytes were split into messages: the name of a protocol of the `Protocols`
/// module (`lab`, `lines`, `raw`, `http`, `resp`, `postgres`…). Open, so that a new protocol needs no
/// change here or in the schema; a store keeps whatever name its recorder wrote.
public struct Decoding: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ name: String) { self.rawValue = name }

    /// Lab commands and replies, with verb, payload and reply code.
    public static let lab = Decoding("lab")
    /// Lines (LF-terminated) in each direction.
    public static let lines = Decoding("lines")
    /// Chunks exactly as read from the socket.
    public static let raw = Decoding("raw")
    /// Not a protocol: the proxy's choice of one from each client's first bytes. A session stores
    /// the protocol chosen.
    public static let auto = Decoding("auto")

    public var description: String { rawValue }
}

/// Which side sent a message.
public enum Sender: String, Sendable, Codable {
    case client, server

    /// The other end of the conversation.
    public var other: Sender { self == .client ? .server : .client }
}

/// Why a session ended. Stored as the raw value.
public enum EndReason: String, Sendable, CaseIterable, Codable {
    case quit
    case clientClosed = "client_closed"
    case serverClosed = "server_closed"
    case reset
    case idleTimeout = "idle_timeout"
    case lineTooLong = "line_too_long"
    case refused
    case shutdown
    case storageError = "storage_error"
    case upstreamRefused = "upstream_refused"
    case upstreamTimeout = "upstream_timeout"
    /// The client's TLS handshake failed (not TLS, an alert, a timeout): `TLSLeg.failure` says why.
    case tlsHandshakeFailed = "tls_handshake_failed"
    /// The TLS handshake with the upstream failed (its certificate did not verify, an alert).
    case upstreamTLSFailed = "upstream_tls_failed"
    /// The upstream refused a STARTTLS upgrade the proxy had to make (`--upstream-tls`).
    case startTLSRefused = "starttls_refused"
    /// The recorder died (kill -9, power loss) with the session open; closed by the next recorder
    /// of the same name to open the store.
    case interrupted
    case error
}

/// The fixed facts of a session, known when it starts.
public struct SessionInfo: Sendable, Equatable {
    public var kind: SessionKind
    public var decoding: Decoding
    /// The name of the recorder (`--recorder-name`, default the host name) that made it.
    public var recorder: String
    public var clientHost: String
    public var clientPort: Int
    public var serverHost: String
    public var serverPort: Int
    public var startedMicros: Int64
    public var replayOf: Int64?
    /// Known once handshakes finish: a live session hands them over with `SessionTape.noteTLS`.
    public var tls: TLSDetails?

    public init(kind: SessionKind, decoding: Decoding, recorder: String = "", clientHost: String, clientPort: Int,
                serverHost: String, serverPort: Int, startedMicros: Int64, replayOf: Int64? = nil, tls: TLSDetails? = nil) {
        self.kind = kind
        self.decoding = decoding
        self.recorder = recorder
        self.clientHost = clientHost
        self.clientPort = clientPort
        self.serverHost = serverHost
        self.serverPort = serverPort
        self.startedMicros = startedMicros
        self.replayOf = replayOf
        self.tls = tls
    }
}

/// One message as it is handed to a sink.
public struct RecordedMessage: Sendable, Equatable {
    /// 1, 2, 3… within the session, both directions together, in wire order.
    public var seq: Int64
    public var atMicros: Int64
    public var sender: Sender
    /// Exactly the bytes that crossed the wire, except that each of `redactions` stands in for a secret.
    public var raw: [UInt8]
    public var verb: String?
    /// Where the DATA payload lies inside `raw`.
    public var payloadRange: Range<Int>?
    public var replyCode: Int?
    /// In a mock session: the stored id of the recorded message this one stands for (the recorded
    /// request a client message matched, the recorded reply a server message repeats).
    public var answeredBy: Int64?
    /// The secrets a redaction rule replaced by tokens, in offset order.
    public var redactions: [RedactedSpan]
    /// What the session's protocol decoder read in the message (`http`'s method and target, …).
    public var fields: [MessageField]
    /// Why the decoder could not read these bytes; the rest of the direction is then recorded raw.
    public var decodeError: String?
    /// On the message that completes an exchange: the request it answers and how long it took.
    public var exchange: ExchangeLink?

    public init(seq: Int64, atMicros: Int64, sender: Sender, raw: [UInt8],
                verb: String? = nil, payloadRange: Range<Int>? = nil, replyCode: Int? = nil, answeredBy: Int64? = nil,
                redactions: [RedactedSpan] = [], fields: [MessageField] = [], decodeError: String? = nil,
                exchange: ExchangeLink? = nil) {
        self.seq = seq
        self.atMicros = atMicros
        self.sender = sender
        self.raw = raw
        self.verb = verb
        self.payloadRange = payloadRange
        self.replyCode = replyCode
        self.answeredBy = answeredBy
        self.redactions = redactions
        self.fields = fields
        self.decodeError = decodeError
        self.exchange = exchange
    }

    /// How long the message was on the wire.
    public var originalLength: Int { redactions.originalLength(storedCount: raw.count) }
}

/// How a session ended, written when it closes.
public struct SessionEnd: Sendable, Equatable {
    public var atMicros: Int64
    public var reason: EndReason
    public var bytesFromClient: Int64
    public var bytesFromServer: Int64
    public var messageCount: Int64

    public init(atMicros: Int64, reason: EndReason, bytesFromClient: Int64, bytesFromServer: Int64, messageCount: Int64) {
        self.atMicros = atMicros
        self.reason = reason
        self.bytesFromClient = bytesFromClient
        self.bytesFromServer = bytesFromServer
        self.messageCount = messageCount
    }
}

/// How hard a store works to make a commit survive. A commit survives a crash of wirelog
/// (kill -9) in either mode; `full` also survives a crash of the machine.
public enum Durability: String, Sendable, CaseIterable {
    case normal, full
}

/// Wall-clock time in microseconds since the Unix epoch, the unit of every stored time.
public enum WallClock {
    public static func nowMicros() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1_000
    }
}

/// Names of recorders, as sessions carry them.
public enum RecorderName {
    /// The default name: this machine's host name.
    public static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()
}
