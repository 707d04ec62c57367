/// What a sink tells a session after each transaction that held its messages.
public enum CommitOutcome: Sendable, Equatable {
    /// Every message of the session up to and including `seq` is durable.
    case committed(throughSeq: Int64)
    /// The transaction failed; its messages are not stored and must not be acknowledged.
    case failed(reason: String)
}

/// Where commit outcomes are delivered: typically an event loop, shared by all its connections.
/// After each transaction a sink schedules one closure per delivery carrying the outcomes of all
/// its sessions, so a commit costs each event loop one wake-up, not one per connection.
public struct CommitDelivery: Sendable {
    package let owner: ObjectIdentifier
    package let schedule: @Sendable (@escaping @Sendable () -> Void) -> Void

    /// Deliveries with the same `owner` (an event loop, say) are grouped into one `schedule` call.
    public init(owner: AnyObject, schedule: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void) {
        self.owner = ObjectIdentifier(owner)
        self.schedule = schedule
    }

    /// Outcomes delivered on the sink's own writer: for callers that hop on their own.
    public static let writer = CommitDelivery(owner: WriterOwner.shared) { $0() }
    private final class WriterOwner: Sendable { static let shared = WriterOwner() }
}

/// A session being recorded, as a sink sees it. Created by a `SessionTape`; the sink calls
/// `onCommit` through `delivery` after each transaction that held its records.
public final class RecordingSession: @unchecked Sendable {
    public let info: SessionInfo
    package let delivery: CommitDelivery
    package let onCommit: @Sendable (CommitOutcome) -> Void
    /// Whether the connection waits for commits to act (serve's reply leaves once its command is
    /// committed); a session that does not (a proxy's) lets the sink gather larger transactions.
    package let awaitsCommits: Bool

    /// The id the store gave the session. Set by the sink's writer before it delivers the outcome
    /// of the first transaction that held the session, so an `onCommit` handler may read it.
    public package(set) var storedID: Int64?
    // The sink's writer only: which batch last touched the session and its highest seq there.
    package var batchMark: UInt64 = 0
    package var batchHighestSeq: Int64 = 0

    package init(info: SessionInfo, delivery: CommitDelivery, awaitsCommits: Bool = true,
                 onCommit: @escaping @Sendable (CommitOutcome) -> Void) {
        self.info = info
        self.delivery = delivery
        self.awaitsCommits = awaitsCommits
        self.onCommit = onCommit
    }
}

/// Where live recordings go: one writer commits what every connection appends, in group commits,
/// and tells each session how far it is durable (`CommitOutcome`). Appends never block; callers
/// bound what they have in flight with their `SessionTape`'s uncommitted window.
public protocol RecordingSink: AnyObject, Sendable {
    func begin(_ session: RecordingSession)
    func append(_ session: RecordingSession, _ message: RecordedMessage)
    /// The session's TLS facts, whole, each time they grow (a handshake finished or failed, a side
    /// closed): the store keeps the latest.
    func noteTLS(_ session: RecordingSession, _ tls: TLSDetails)
    /// The faults the session met so far, whole, each time one more is added: the store keeps the latest.
    func noteFaults(_ session: RecordingSession, _ faults: [FaultRecord])
    func end(_ session: RecordingSession, _ end: SessionEnd)
    /// The rules, with this store's key, that every tape writing here applies before it appends.
    var redactor: Redactor? { get }
    /// Commits everything queued, delivers the last outcomes and stops; later records are dropped.
    func shutdown() async
}
