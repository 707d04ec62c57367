import NIOCore
import Recording
import Replay

/// Everything `wirelog mock` can be told. Defaults are the documented ones (docs/MOCK.md).
public struct MockConfiguration: Sendable {
    public var listenHost = "127.0.0.1"
    public var listenPort = 7072
    public var order = MockOrder.any
    public var framing = MockFraming.recorded
    public var pace = MockPace.none
    public var onMiss = MissAction.error
    /// How HTTP, RESP and PostgreSQL requests are matched (`--match`); other protocols always by bytes.
    public var matchBy = MockMatching.fields
    /// What the field matching of HTTP, RESP and PostgreSQL leaves out (`--ignore-*`, `--match-file`).
    public var rules = MatchRules()
    /// What a request gets once each of its recorded answers was given.
    public var whenExhausted = WhenExhausted.repeat
    /// `--explain`: log each match decision.
    public var explain = false
    /// `--ignore`: regular expressions masked in requests before they are compared (as replay's).
    /// Set through `mask(_:)`, which checks them, so every connection can compile them again.
    public private(set) var ignore: [String] = []
    /// Silence after bytes that only begin a recorded request (or an unterminated line) that completes them.
    public var quietPeriod: TimeAmount = .milliseconds(200)
    /// Most client bytes held while they do not match yet (and longest line with line or lab framing).
    public var maxLineLength = 64 * 1024
    public var maxConnections = 4096
    public var eventLoopThreads = System.coreCount
    /// Who the mock's own sessions say recorded them.
    public var recorderName = RecorderName.hostName
    /// Time allowed for connecting to the `--on-miss upstream` server.
    public var connectTimeout: TimeAmount = .seconds(5)
    /// A connection stops being read while this many of its recorded bytes wait for a commit.
    public var maxUncommittedBytes = 4 << 20
    /// The store's redaction rules (and `--redact*`'s) with its key: a request is redacted as the
    /// store holds it before it is matched or logged, so a secret matches its token.
    public var redactor: Redactor?

    public init() {}

    /// Sets the `--ignore` patterns once they compile.
    public mutating func mask(_ patterns: [String]) throws(MaskingError) {
        _ = try Masking(patterns: patterns)
        ignore = patterns
    }
}

/// What a request is matched by, for the protocols the mock can read.
public enum MockMatching: String, Sendable, CaseIterable {
    /// What it asks: method, path, query and body; command and arguments; statement and parameters.
    case fields
    /// Its bytes, as for every other protocol.
    case bytes
}

/// How client bytes are cut into the messages that are matched.
public enum MockFraming: String, Sendable, CaseIterable {
    /// As the recording cut them: bytes are held until they are a recorded request.
    case recorded
    /// Lines (LF-terminated; an unterminated one after the quiet period).
    case line
    /// Lab commands: lines, with DATA and its payload line as one.
    case lab
}

/// Whether replies keep the delays they were recorded with.
public enum MockPace: Sendable, Equatable {
    /// At once.
    case none
    /// Each reply as long after its request as it was recorded, divided by `speed` (`x2`: twice as fast).
    case recorded(speed: Double)

    /// `none`, `recorded` or `xN` (N a positive number).
    public init?(argument: String) {
        switch argument {
        case "none": self = .none
        case "recorded": self = .recorded(speed: 1)
        default:
            guard argument.hasPrefix("x"), let speed = Double(argument.dropFirst()), speed > 0, speed.isFinite else { return nil }
            self = .recorded(speed: speed)
        }
    }
}

/// What the mock does with client bytes that match nothing recorded.
public enum MissAction: Sendable, Equatable {
    /// The protocol's own error (HTTP 501, a RESP error, a PostgreSQL ErrorResponse) naming the
    /// closest recorded request and what differs, and go on; a close for protocols without one.
    case error
    /// Close the connection.
    case close
    /// Send these bytes, drop what missed and go on.
    case reply([UInt8])
    /// Forward the connection from the miss on to the real server at this address, and record
    /// what it says as a new session of kind proxy (the next mock run answers from it).
    case upstream(host: String, port: Int)
}
