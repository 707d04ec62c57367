import Metrics
import Telemetry

/// One session's bookkeeping, owned by the connection that records it (used on one thread, its
/// event loop): sequence numbers, byte and message counters, the window of messages not yet
/// committed, and the end. With no sink (recording off) every message counts as committed at once.
public final class SessionTape {
    private let sink: (any RecordingSink)?
    private let session: RecordingSession?
    /// The sink's redaction rules, and what they remember of this session.
    private let redactor: Redactor?
    private var redactionState = RedactionState()
    /// The protocol decode errors are counted under, and their counter once there is one.
    private let decoding: Decoding
    private var decodeErrors: Counter?

    public private(set) var bytesFromClient: Int64 = 0
    public private(set) var bytesFromServer: Int64 = 0
    public private(set) var messageCount: Int64 = 0
    /// Every message up to this seq is durable (or, with no sink, was recorded).
    public private(set) var committedThroughSeq: Int64 = 0
    /// Bytes of recorded messages not yet committed: what a connection must bound.
    public private(set) var uncommittedBytes = 0
    /// Set once the session has ended; nothing more is recorded.
    public private(set) var endReason: EndReason?

    /// Recorded messages not yet committed, oldest first (`uncommittedStart` is the first live one).
    private var uncommitted: [(seq: Int64, bytes: Int)] = []
    private var uncommittedStart = 0

    /// Starts recording the session into `sink`, or only counts it when `sink` is nil. `onCommit`
    /// hears every outcome through `delivery`; it should call `apply(_:)` before acting on it.
    /// `awaitsCommits` false says the connection never waits for a commit to act (a proxy forwards
    /// at once), so the sink may take longer to commit its records, in larger transactions.
    public init(sink: (any RecordingSink)?, info: SessionInfo, delivery: CommitDelivery = .writer, awaitsCommits: Bool = true,
                onCommit: @escaping @Sendable (CommitOutcome) -> Void = { _ in }) {
        self.sink = sink
        redactor = sink?.redactor
        decoding = info.decoding
        if let sink {
            let session = RecordingSession(info: info, delivery: delivery, awaitsCommits: awaitsCommits, onCommit: onCommit)
            self.session = session
            sink.begin(session)
        } else {
            session = nil
        }
    }

    public var isRecording: Bool { sink != nil }
    public var hasEnded: Bool { endReason != nil }
    /// The seq the next message gets.
    public var nextSeq: Int64 { messageCount + 1 }
    /// The store's id for the session, once a commit that held it has been delivered.
    public var storedID: Int64? { session?.storedID }

    /// Counts bytes that crossed the wire from `sender`, whether or not a message holds them yet.
    public func countWireBytes(_ count: Int, from sender: Sender) {
        switch sender {
        case .client:
            bytesFromClient += Int64(count)
            TapeMeters.bytesFromClient.increment(by: Int64(count))
        case .server:
            bytesFromServer += Int64(count)
            TapeMeters.bytesFromServer.increment(by: Int64(count))
        }
    }

    /// Records a message and returns its seq. After the end nothing more is recorded. Secrets the
    /// sink's rules find are replaced by tokens here, before the message leaves the tape: the
    /// caller keeps (and forwards) the real bytes.
    @discardableResult
    public func record(_ sender: Sender, _ raw: [UInt8], at micros: Int64 = WallClock.nowMicros(),
                       verb: String? = nil, payloadRange: Range<Int>? = nil, replyCode: Int? = nil,
                       answeredBy: Int64? = nil, fields: [MessageField] = [], decodeError: String? = nil,
                       exchange: ExchangeLink? = nil) -> Int64 {
        guard endReason == nil else { return messageCount }
        messageCount += 1
        let seq = messageCount
        (sender == .client ? TapeMeters.messagesFromClient : TapeMeters.messagesFromServer).increment()
        if decodeError != nil {
            if decodeErrors == nil { decodeErrors = WirelogMetrics.decodeErrors.counter(decoding.rawValue) }
            decodeErrors?.increment()
        }
        guard let sink, let session else {
            committedThroughSeq = seq
            return seq
        }
        var message = RecordedMessage(
            seq: seq, atMicros: micros, sender: sender, raw: raw, verb: verb, payloadRange: payloadRange, replyCode: replyCode,
            answeredBy: answeredBy, fields: fields, decodeError: decodeError, exchange: exchange)
        redactor?.redact(&message, state: &redactionState)
        sink.append(session, message)
        uncommitted.append((seq, message.raw.count))
        uncommittedBytes += message.raw.count
        return seq
    }

    /// Hands the session's TLS facts to the sink (each time they grow; the latest count). Before the end only.
    public func noteTLS(_ tls: TLSDetails) {
        guard endReason == nil, let sink, let session else { return }
        sink.noteTLS(session, tls)
    }

    /// Hands the session's faults to the sink (each time one more is added). Before the end only.
    public func noteFaults(_ faults: [FaultRecord]) {
        guard endReason == nil, let sink, let session else { return }
        sink.noteFaults(session, faults)
    }

    /// Takes in an outcome the sink delivered: a commit moves the window on.
    public func apply(_ outcome: CommitOutcome) {
        guard case .committed(let seq) = outcome else { return }
        committedThroughSeq = max(committedThroughSeq, seq)
        while uncommittedStart < uncommitted.count, uncommitted[uncommittedStart].seq <= seq {
            uncommittedBytes -= uncommitted[uncommittedStart].bytes
            uncommittedStart += 1
        }
        if uncommittedStart == uncommitted.count {
            uncommitted.removeAll(keepingCapacity: true)
            uncommittedStart = 0
        }
    }

    /// Ends the session with `reason` and its counters; only the first call counts.
    public func end(_ reason: EndReason, at micros: Int64 = WallClock.nowMicros()) {
        guard endReason == nil else { return }
        endReason = reason
        TapeMeters.sessionsEnded[reason]?.increment()
        uncommitted.removeAll()
        uncommittedStart = 0
        uncommittedBytes = 0
        guard let sink, let session else { return }
        sink.end(session, SessionEnd(
            atMicros: micros, reason: reason,
            bytesFromClient: bytesFromClient, bytesFromServer: bytesFromServer, messageCount: messageCount))
    }
}

/// The tapes' counters, made on first use (after `--metrics` set the metrics system up).
private enum TapeMeters {
    static let bytesFromClient = WirelogMetrics.wireBytes.counter(Sender.client.rawValue)
    static let bytesFromServer = WirelogMetrics.wireBytes.counter(Sender.server.rawValue)
    static let messagesFromClient = WirelogMetrics.messages.counter(Sender.client.rawValue)
    static let messagesFromServer = WirelogMetrics.messages.counter(Sender.server.rawValue)
    static let sessionsEnded = Dictionary(uniqueKeysWithValues: EndReason.allCases.map {
        ($0, WirelogMetrics.sessionsEnded.counter($0.rawValue))
    })
}
