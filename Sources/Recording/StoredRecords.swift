/// A session as the query commands show it. For an open session the counts are computed from its
/// messages so far (the stored counters are written when it ends).
public struct SessionSummary: Sendable, Equatable {
    public var id: Int64
    /// As stored: unknown values (from a newer wirelog) are kept as text.
    public var kind: String
    public var decoding: String
    public var recorder: String
    public var clientHost: String
    public var clientPort: Int
    public var serverHost: String
    public var serverPort: Int
    public var startedMicros: Int64
    public var endedMicros: Int64?
    /// nil while the session is open.
    public var endReason: String?
    public var bytesFromClient: Int64
    public var bytesFromServer: Int64
    public var messageCount: Int64
    public var replayOf: Int64?
    public var tls: TLSDetails?
    /// What toxics did to it (a proxy with faults, docs/FAULTS.md), in order.
    public var faults: [FaultRecord]

    public init(id: Int64, kind: String, decoding: String, recorder: String, clientHost: String, clientPort: Int,
                serverHost: String, serverPort: Int, startedMicros: Int64, endedMicros: Int64?, endReason: String?,
                bytesFromClient: Int64, bytesFromServer: Int64, messageCount: Int64, replayOf: Int64?, tls: TLSDetails? = nil,
                faults: [FaultRecord] = []) {
        self.id = id
        self.kind = kind
        self.decoding = decoding
        self.recorder = recorder
        self.clientHost = clientHost
        self.clientPort = clientPort
        self.serverHost = serverHost
        self.serverPort = serverPort
        self.startedMicros = startedMicros
        self.endedMicros = endedMicros
        self.endReason = endReason
        self.bytesFromClient = bytesFromClient
        self.bytesFromServer = bytesFromServer
        self.messageCount = messageCount
        self.replayOf = replayOf
        self.tls = tls
        self.faults = faults
    }

    /// The session's fixed facts; kinds and decodings this binary does not know read as the closest it does.
    public var info: SessionInfo {
        SessionInfo(kind: SessionKind(rawValue: kind) ?? .server, decoding: Decoding(decoding),
                    recorder: recorder, clientHost: clientHost, clientPort: clientPort,
                    serverHost: serverHost, serverPort: serverPort, startedMicros: startedMicros, replayOf: replayOf, tls: tls)
    }
}

/// What a live view of many sessions needs of a message: no bytes, only how many.
public struct MessageFacts: Sendable, Equatable {
    public var id: Int64
    public var sessionID: Int64
    public var seq: Int64
    public var sender: Sender
    /// The length of the stored bytes (`StoredMessage.raw.count`).
    public var byteCount: Int64
    public var verb: String?
    public var replyCode: Int?
    /// What the protocol decoder read (the live list's protocol filters look at them).
    public var fields: [MessageField]
    /// The exchange this message completes took this long.
    public var exchangeMicros: Int64?

    public init(id: Int64, sessionID: Int64, seq: Int64, sender: Sender, byteCount: Int64, verb: String?, replyCode: Int?,
                fields: [MessageField] = [], exchangeMicros: Int64? = nil) {
        self.id = id
        self.sessionID = sessionID
        self.seq = seq
        self.sender = sender
        self.byteCount = byteCount
        self.verb = verb
        self.replyCode = replyCode
        self.fields = fields
        self.exchangeMicros = exchangeMicros
    }
}

/// One stored message, as read back.
public struct StoredMessage: Sendable, Equatable {
    /// Increases in commit order across the store: follow and paging resume after an id.
    public var id: Int64
    public var sessionID: Int64
    public var seq: Int64
    public var atMicros: Int64
    public var sender: Sender
    public var raw: [UInt8]
    public var verb: String?
    public var payload: [UInt8]?
    public var replyCode: Int?
    /// In a mock session: the recorded message this one stands for (`RecordedMessage.answeredBy`).
    public var answeredBy: Int64?
    /// The secrets replaced by tokens in `raw` (see `RecordedMessage.redactions`).
    public var redactions: [RedactedSpan]
    /// What the protocol decoder read in it, why it could not, and the exchange it completes.
    public var fields: [MessageField]
    public var decodeError: String?
    public var exchange: ExchangeLink?

    public init(id: Int64, sessionID: Int64, seq: Int64, atMicros: Int64, sender: Sender, raw: [UInt8],
                verb: String?, payload: [UInt8]?, replyCode: Int?, answeredBy: Int64? = nil, redactions: [RedactedSpan] = [],
                fields: [MessageField] = [], decodeError: String? = nil, exchange: ExchangeLink? = nil) {
        self.id = id
        self.sessionID = sessionID
        self.seq = seq
        self.atMicros = atMicros
        self.sender = sender
        self.raw = raw
        self.verb = verb
        self.payload = payload
        self.replyCode = replyCode
        self.answeredBy = answeredBy
        self.redactions = redactions
        self.fields = fields
        self.decodeError = decodeError
        self.exchange = exchange
    }

    /// How long the message was on the wire.
    public var originalLength: Int { redactions.originalLength(storedCount: raw.count) }

    /// The message as it was recorded. The payload is found again inside `raw` as its last
    /// occurrence: it is what follows the verb, before at most a line ending.
    public var recorded: RecordedMessage {
        var payloadRange: Range<Int>?
        if let payload, payload.count <= raw.count {
            payloadRange = (0...(raw.count - payload.count)).reversed()
                .first { raw[$0..<$0 + payload.count].elementsEqual(payload) }
                .map { $0..<$0 + payload.count }
        }
        return RecordedMessage(seq: seq, atMicros: atMicros, sender: sender, raw: raw, verb: verb,
                               payloadRange: payloadRange, replyCode: replyCode, answeredBy: answeredBy, redactions: redactions,
                               fields: fields, decodeError: decodeError, exchange: exchange)
    }
}

/// A message whose bytes matched a search, with its neighbours in the same session.
public struct SearchHit: Sendable, Equatable {
    public var session: SessionSummary
    public var match: StoredMessage
    /// Messages around the match in seq order, the match included.
    public var context: [StoredMessage]

    public init(session: SessionSummary, match: StoredMessage, context: [StoredMessage]) {
        self.session = session
        self.match = match
        self.context = context
    }
}

/// A whole session, read for replay or written at once (synthetic data, `sessions copy`).
public struct CompleteSession: Sendable, Equatable {
    /// The id in the store it was read from (nil for one not stored yet).
    public var id: Int64?
    public var info: SessionInfo
    /// nil while the session is open.
    public var end: SessionEnd?
    /// As stored; kept as text when this binary does not know it.
    public var endReason: String?
    public var messages: [RecordedMessage]
    /// What toxics did to it (a copy keeps them).
    public var faults: [FaultRecord]

    public init(id: Int64? = nil, info: SessionInfo, end: SessionEnd?, endReason: String? = nil, messages: [RecordedMessage],
                faults: [FaultRecord] = []) {
        self.id = id
        self.info = info
        self.end = end
        self.endReason = endReason ?? end?.reason.rawValue
        self.messages = messages
        self.faults = faults
    }
}

/// What `prune` removed and what it gave back.
public struct PruneResult: Sendable, Equatable {
    public var sessions: Int64
    public var messages: Int64
    /// Sessions old enough but still open (being recorded): never removed.
    public var openSessionsKept: Int64
    /// Bytes the store gave back (pages freed in a SQLite file, relation sizes in PostgreSQL).
    public var freedBytes: Int64
    /// The store's size before and after, compaction included.
    public var sizeBefore: Int64
    public var sizeAfter: Int64

    public init(sessions: Int64, messages: Int64, openSessionsKept: Int64, freedBytes: Int64, sizeBefore: Int64, sizeAfter: Int64) {
        self.sessions = sessions
        self.messages = messages
        self.openSessionsKept = openSessionsKept
        self.freedBytes = freedBytes
        self.sizeBefore = sizeBefore
        self.sizeAfter = sizeAfter
    }
}

/// Why a read could not be answered, in words for the person who asked.
public enum RecordingError: Error, CustomStringConvertible, Sendable, Equatable {
    case noSuchSession(Int64)

    public var description: String {
        switch self {
        case .noSuchSession(let id): "no session \(id) in this store (wirelog sessions list shows the ids)"
        }
    }
}

/// An error from a store worded for people (what happened, what to do): the CLI prints its
/// description as one line and exits 2. Every backend's errors conform.
public protocol StoreFailure: Error, CustomStringConvertible {
    /// The store is not there yet but a recorder would create it (no file, no schema): what
    /// `follow` waits out.
    var isNotCreatedYet: Bool { get }
}

extension StoreFailure {
    public var isNotCreatedYet: Bool { false }
}
