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

    public init(sinceMicros: Int64? = nil, untilMicros: Int64? = nil, clientHost: String? = nil, clientPort: Int? = nil,
                kind: SessionKind? = nil, recorder: String? = nil, verb: String? = nil, replyCode: Int? = nil,
                endReason: String? = nil) {
        self.sinceMicros = sinceMicros
        self.untilMicros = untilMicros
        self.clientHost = clientHost
        self.clientPort = clientPort
        self.kind = kind
        self.recorder = recorder
        self.verb = verb
        self.replyCode = replyCode
        self.endReason = endReason
    }

    /// The reason `--reason` takes for sessions that have not ended.
    public static let openReason = "open"

    /// True when a filter on the sessions themselves is set (time, client, kind, recorder, reason).
    public var narrowsSessions: Bool {
        sinceMicros != nil || untilMicros != nil || clientHost != nil || kind != nil || recorder != nil || endReason != nil
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
