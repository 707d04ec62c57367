/// The read side of a store, and the work on whole sessions: what the `sessions` commands,
/// replay, copy and synthetic data need. Every backend gives the same answers in the same order.
public protocol RecordingStore: Sendable {
    /// Sessions matching `filter`, newest first, at most `limit`; with `before`, only those that
    /// come after that position in this order (keyset paging: a deep page costs what the first does).
    /// The order is start time then id, both descending; with a verb or reply-code filter it is the
    /// session id alone, descending (those sessions are found through the per-session value indexes).
    func list(_ filter: SessionFilter, limit: Int, before: SessionListPosition?) async throws -> [SessionSummary]
    /// How many sessions `list` would give after `before` (all of them without it), counting no
    /// further than `bound`: cheap to ask after a page whatever the store holds.
    func countSessions(_ filter: SessionFilter, before: SessionListPosition?, upTo bound: Int) async throws -> Int
    /// The session with this id, or `RecordingError.noSuchSession`.
    func session(_ id: Int64) async throws -> SessionSummary
    /// The sessions `ids` in id order, those that do not exist left out. With `countingOpen`, an open
    /// session's counters are counted from its messages so far, as `session(_:)` gives them; without,
    /// they are zero (a row's counters are written when it ends), which costs nothing however much
    /// it holds: for a caller that counts the messages itself from the session's first.
    func sessions(_ ids: [Int64], countingOpen: Bool) async throws -> [SessionSummary]
    /// Those of the sessions `ids` that have ended, in id order: what `follow` asks of the sessions it printed.
    func endedSessions(among ids: [Int64]) async throws -> [SessionSummary]
    /// The session's messages in wire order after message `afterID` (0: from the start), at most `limit`.
    func messages(ofSession id: Int64, after afterID: Int64, limit: Int) async throws -> [StoredMessage]
    /// Messages whose raw bytes `pattern` matches, newest first, at most `limit`, each with `context`
    /// messages either side. Verb and code filters apply to the matching message.
    func search(_ pattern: SearchPattern, filter: SessionFilter, limit: Int, context: Int) async throws -> [SearchHit]
    /// Counts and latencies over the sessions `filter` selects.
    func stats(_ filter: SessionFilter, topClients: Int) async throws -> SessionStats
    /// The id of the newest message.
    func latestMessageID() async throws -> Int64
    /// Messages with an id above `afterID`, in id order, at most `limit`. Session filters pick the
    /// sessions; verb and code filters pick the messages.
    func messages(after afterID: Int64, filter: SessionFilter, limit: Int) async throws -> [StoredMessage]
    /// The same messages' facts, without their bytes.
    func messageFacts(after afterID: Int64, filter: SessionFilter, limit: Int) async throws -> [MessageFacts]
    /// A cursor over what is recorded from now on (`sessions follow`, live views). The default
    /// suits stores whose ids grow in commit order (one writer at a time).
    func follow() async throws -> any FollowCursor
    /// Removes every ended session that started before `cutoffMicros`, with its messages; with
    /// `compact`, gives the space back to the system.
    func prune(startedBefore cutoffMicros: Int64, compact: Bool) async throws -> PruneResult
    /// Removes these sessions and their messages for good; returns how many existed.
    func delete(sessions ids: [Int64]) async throws -> Int
    /// Writes whole sessions in one transaction and returns their new ids, in order. A session whose
    /// `origin` was written before is skipped (nil): copying twice copies nothing twice.
    func write(_ sessions: [(session: CompleteSession, origin: String?)]) async throws -> [Int64?]
    /// A name for this store that stays the same for its life: what copies remember as `origin`.
    func identity() async throws -> String
    /// Kind, size on disk, sessions and open recorders (`wirelog status`).
    func status() async throws -> StoreStatus
    /// The id of the session written with this `origin`, if any.
    func session(origin: String) async throws -> Int64?
    /// The redaction rules the store remembers and the key of its tokens (never shown).
    func redaction() async throws -> StoreRedaction
    /// Releases connections.
    func close() async
}

/// New messages as they are committed, each once, oldest first.
public protocol FollowCursor: AnyObject, Sendable {
    /// What was committed since the previous call (at most `limit`), oldest first.
    func next(_ filter: SessionFilter, limit: Int) async throws -> [StoredMessage]
    /// The same, the messages' facts only: reading no bytes, a view of many busy sessions keeps up
    /// at a fraction of the cost. Either call moves the one position of the cursor.
    func nextFacts(_ filter: SessionFilter, limit: Int) async throws -> [MessageFacts]
}

extension RecordingStore {
    /// The first page of sessions matching `filter`.
    public func list(_ filter: SessionFilter, limit: Int) async throws -> [SessionSummary] {
        try await list(filter, limit: limit, before: nil)
    }

    /// Messages whose raw bytes contain `needle`.
    public func search(_ needle: [UInt8], filter: SessionFilter, limit: Int, context: Int) async throws -> [SearchHit] {
        try await search(SearchPattern(bytes: needle), filter: filter, limit: limit, context: context)
    }

    public func follow() async throws -> any FollowCursor {
        IDFollowCursor(store: self, after: try await latestMessageID())
    }

    /// Calls `body` with each message of the session in wire order, a page at a time.
    public func forEachMessage(ofSession id: Int64, pageSize: Int = 1_000,
                               _ body: (StoredMessage) async throws -> Void) async throws {
        var after: Int64 = 0
        while true {
            let page = try await messages(ofSession: id, after: after, limit: pageSize)
            for message in page { try await body(message) }
            guard page.count == pageSize, let last = page.last else { return }
            after = last.id
        }
    }

    public func messages(ofSession id: Int64) async throws -> [StoredMessage] {
        var all: [StoredMessage] = []
        try await forEachMessage(ofSession: id) { all.append($0) }
        return all
    }

    /// The session with all its messages, as replay and copy need it; nil when there is no such session.
    public func completeSession(_ id: Int64) async throws -> CompleteSession? {
        let summary: SessionSummary
        do {
            summary = try await session(id)
        } catch RecordingError.noSuchSession {
            return nil
        }
        let messages = try await messages(ofSession: id).map(\.recorded)
        let end = summary.endedMicros.map { ended in
            SessionEnd(atMicros: ended, reason: summary.endReason.flatMap(EndReason.init(rawValue:)) ?? .error,
                       bytesFromClient: summary.bytesFromClient, bytesFromServer: summary.bytesFromServer,
                       messageCount: summary.messageCount)
        }
        return CompleteSession(id: id, info: summary.info, end: end, endReason: summary.endReason, messages: messages,
                               faults: summary.faults)
    }
}

/// Follows a store whose message ids grow in commit order: everything after the last id seen.
final class IDFollowCursor: FollowCursor, @unchecked Sendable {
    private let store: any RecordingStore
    // Used by one caller at a time, like the store.
    private var lastID: Int64

    init(store: any RecordingStore, after id: Int64) {
        self.store = store
        lastID = id
    }

    func next(_ filter: SessionFilter, limit: Int) async throws -> [StoredMessage] {
        try await advance(store.messages(after: lastID, filter: filter, limit: limit), id: \.id)
    }

    func nextFacts(_ filter: SessionFilter, limit: Int) async throws -> [MessageFacts] {
        try await advance(store.messageFacts(after: lastID, filter: filter, limit: limit), id: \.id)
    }

    /// Moves past `batch`, whatever was read of its messages.
    private func advance<Row>(_ batch: [Row], id: KeyPath<Row, Int64>) -> [Row] {
        if let last = batch.last { lastID = last[keyPath: id] }
        return batch
    }
}
