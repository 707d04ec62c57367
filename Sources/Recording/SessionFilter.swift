/// Which sessions a query looks at. Every field narrows; nil means "any".
public struct SessionFilter: Sendable, Equatable {
    /// Sessions that started at or after this time (µs since the epoch).
    public var sinceMicros: Int64?
    /// Sessions that started before this time.
    public var untilMicros: Int64?
    public var clientHost: String?
    /// Only with `clientHost`.
    public var clientPort: Int?
    public var kind: SessionKind?
    /// Sessions made by the recorder of this name.
    public var recorder: String?
    /// Sessions with a client message of this verb (compared case-insensitively).
    public var verb: String?
    /// Sessions with a server message of this reply code.
    public var replyCode: Int?
    /// An `end_reason` value, or `open` for sessions still being recorded.
    public var endReason: String?
    /// Sessions with TLS on either leg.
    public var tls = false
    /// Sessions whose client asked for this name (SNI), or that wirelog sent it upstream.
    public var serverName: String?
    /// Sessions cut by this protocol (`http`, `resp`, `postgres`…: `SessionSummary.decoding`).
    public var decoding: String?
    /// Sessions with a server message whose reply code (HTTP status) lies in this range (`--status 5xx`).
    public var replyCodeRange: ClosedRange<Int>?
    /// Sessions with a message whose decoded fields match each of these (`--path`, `--sqlstate`, `--field`).
    public var fields: [FieldMatch] = []
    /// Sessions with an exchange that took longer than this (µs).
    public var slowerThanMicros: Int64?

    public init(sinceMicros: Int64? = nil, untilMicros: Int64? = nil, clientHost: String? = nil, clientPort: Int? = nil,
                kind: SessionKind? = nil, recorder: String? = nil, verb: String? = nil, replyCode: Int? = nil,
                endReason: String? = nil, tls: Bool = false, serverName: String? = nil) {
        self.sinceMicros = sinceMicros
        self.untilMicros = untilMicros
        self.clientHost = clientHost
        self.clientPort = clientPort
        self.kind = kind
        self.recorder = recorder
        self.verb = verb
        self.replyCode = replyCode
        self.endReason = endReason
        self.tls = tls
        self.serverName = serverName
    }

    /// The reason `--reason` takes for sessions that have not ended.
    public static let openReason = "open"

    /// With a verb or reply-code filter, `list` orders and pages by session id alone.
    public var listsByID: Bool { verb != nil || replyCode != nil }

    /// True when a filter on the sessions themselves is set (time, client, kind, recorder, reason, TLS,
    /// protocol and what its messages decoded to).
    public var narrowsSessions: Bool {
        sinceMicros != nil || untilMicros != nil || clientHost != nil || kind != nil || recorder != nil || endReason != nil
            || tls || serverName != nil || decoding != nil || replyCodeRange != nil || !fields.isEmpty || slowerThanMicros != nil
    }
}

/// A condition on one decoded field of a message (`MessageField`), compared as text.
public struct FieldMatch: Sendable, Equatable {
    public enum Comparison: Sendable, Equatable {
        case equals(String)
        /// A glob: `*` any run of characters, `?` one, `[…]` a class (SQLite's GLOB, case-sensitive).
        case glob(String)
    }

    public var name: String
    public var comparison: Comparison

    public init(name: String, _ comparison: Comparison) {
        self.name = name
        self.comparison = comparison
    }

    /// Field names are the decoders' own (letters, digits, `_`): anything else names no field and
    /// is refused before it reaches SQL.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }
}

/// Where a page of `RecordingStore.list` ended: its last session. The next page starts after it.
public struct SessionListPosition: Sendable, Equatable {
    public var startedMicros: Int64
    public var id: Int64

    public init(startedMicros: Int64, id: Int64) {
        self.startedMicros = startedMicros
        self.id = id
    }

    public init(after session: SessionSummary) {
        self.init(startedMicros: session.startedMicros, id: session.id)
    }
}
