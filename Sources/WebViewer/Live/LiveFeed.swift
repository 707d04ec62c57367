import Foundation
import Logging
import NIOCore
import Recording

/// A session as an update shows it, with the verbs and reply codes of its messages seen live
/// (what admits it to a list filtered by verb or code).
struct SessionChange: Sendable {
    let session: SessionSummary
    /// The `session` event's data, encoded once for all watchers (with 100 of them, encoding it
    /// for each cost the recorder most of what the viewer cost it).
    let json: String
    /// Upper case.
    var verbs: Set<String> = []
    var codes: Set<Int> = []
    /// The decoded fields' values seen, by field name, as text (what the protocol filters compare).
    var fieldValues: [String: Set<String>] = [:]
    /// The longest exchange seen, in µs.
    var slowestExchangeMicros: Int64 = 0

    /// Takes in what a message of the session says to the message filters.
    mutating func note(_ message: MessageFacts) {
        if let verb = message.verb { verbs.insert(verb.uppercased()) }
        if let code = message.replyCode { codes.insert(code) }
        for field in message.fields {
            fieldValues[field.name, default: []].insert(field.value.filterText)
        }
        if let micros = message.exchangeMicros { slowestExchangeMicros = max(slowestExchangeMicros, micros) }
    }

    /// Adds what an earlier change of the same session saw.
    mutating func merge(_ earlier: SessionChange) {
        verbs.formUnion(earlier.verbs)
        codes.formUnion(earlier.codes)
        fieldValues.merge(earlier.fieldValues) { $0.union($1) }
        slowestExchangeMicros = max(slowestExchangeMicros, earlier.slowestExchangeMicros)
    }

    init(session: SessionSummary) {
        self.session = session
        json = EventSelection.json(SessionView(session))
    }
}

/// What changed in the store since the previous update: sessions that began, grew or ended, and
/// the messages of watched sessions committed, in commit order (the store's `follow()` cursor).
struct LiveUpdate: Sendable {
    var sequence: Int
    /// Updates before this one were not all seen (the feed was idle or the store failed and
    /// following started afresh): what a watcher shows may be stale.
    var afterGap = false
    var changes: [SessionChange] = []
    /// The messages committed, by session: only those of sessions a watcher follows (a list needs none).
    var messages: [Int64: [StoredMessage]] = [:]
    /// The `session` event of every change, with this update's position as id: what a list without
    /// filters is sent, written once for all of them.
    var everySession = ByteBuffer()
}

/// One poller per viewer process, however many pages watch: each update it reads what the store's
/// `follow()` cursor has committed and which of the open sessions it knows have ended, and hands
/// every watcher the same update. It polls only while someone watches (and `linger` after, so a
/// page that reconnects finds what it missed), so a viewer nobody looks at costs the recorder nothing.
///
/// Positions are update sequence numbers of this feed, named with `epoch` (they mean nothing to
/// another viewer process): message ids cannot serve, since on PostgreSQL several recorders
/// commit ids out of order.
actor LiveFeed {
    static let interval: Duration = .milliseconds(500)
    /// Messages read per query, and most read per update: twice what a recorder at full rate
    /// (~100,000 messages a second on two cores) commits in an interval; a larger burst is read
    /// over the next updates.
    static let page = 5_000
    static let budget = 100_000
    /// How long polling goes on after the last watcher left.
    static let linger: Duration = .seconds(30)

    private struct Watcher {
        let updates: AsyncStream<LiveUpdate>.Continuation
        /// A session page's session: its messages go into the updates.
        let sessionID: Int64?
    }

    /// Names this feed's positions.
    nonisolated let epoch = String(UInt32.random(in: .min ... .max), radix: 36)
    private let store: ViewerStore
    private let logger: Logger
    private var watchers: [UUID: Watcher] = [:]
    private var polling: Task<Void, Never>?
    private var cursor: (any FollowCursor)?
    private var sequence = 0
    private var journal = ChangeJournal()
    private var open = OpenSessions()

    init(store: ViewerStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// A watcher (of one session's messages too, with `session`): the position now, the changes
    /// after `position` (nil when that is not known: another epoch, or further back than the
    /// journal keeps) and the updates from now on. Updates a slow watcher cannot take are dropped:
    /// it sees a gap in `sequence`.
    func watch(since position: FeedPosition?, session: Int64? = nil) async throws
        -> (position: Int, missed: [SessionChange]?, updates: AsyncStream<LiveUpdate>) {
        if cursor == nil { try await startFollowing() }
        let id = UUID()
        let (stream, continuation) = AsyncStream.makeStream(of: LiveUpdate.self, bufferingPolicy: .bufferingNewest(32))
        continuation.onTermination = { _ in Task { await self.unwatch(id) } }
        watchers[id] = Watcher(updates: continuation, sessionID: session)
        if polling == nil { polling = Task { await self.poll() } }
        return (sequence, changes(since: position), stream)
    }

    /// The sessions changed after `position`, each as it is now; nil when not known.
    func changes(since position: FeedPosition?) -> [SessionChange]? {
        guard let position, position.epoch == epoch, position.sequence <= sequence else { return nil }
        return journal.changes(after: position.sequence)
    }

    private func unwatch(_ id: UUID) {
        watchers[id] = nil
    }

    private func startFollowing() async throws {
        cursor = try await store.read { try await $0.follow() }
    }

    /// What happens from here on is not seen: the journal cannot tell a watcher what it missed
    /// before the next update.
    private func stopFollowing() {
        cursor = nil
        open = OpenSessions()
        journal.forget(through: sequence + 1)
    }

    private func poll() async {
        var unwatchedSince: ContinuousClock.Instant?
        while !Task.isCancelled {
            if watchers.isEmpty {
                let since = unwatchedSince ?? .now
                unwatchedSince = since
                if ContinuousClock.now - since > Self.linger {
                    // Follow afresh from whatever is committed by the next watch.
                    polling = nil
                    stopFollowing()
                    return
                }
            } else {
                unwatchedSince = nil
            }
            do {
                let afterGap = cursor == nil
                if afterGap { try await startFollowing() }
                var update = try await nextUpdate()
                update.afterGap = afterGap
                for watcher in watchers.values { watcher.updates.yield(update) }
            } catch is CancellationError {
                return
            } catch {
                // The store failed (gone, locked): ViewerStore reopens it; follow afresh next time.
                logger.warning("live updates: the store cannot be read: \(error)")
                stopFollowing()
            }
            try? await Task.sleep(for: Self.interval)
        }
    }

    private func nextUpdate() async throws -> LiveUpdate {
        guard let cursor else { throw CancellationError() }
        let watched = Set(watchers.values.compactMap(\.sessionID))
        let (ended, messages, watchedMessages) = try await store.read { [openIDs = open.ids] store in
            // Ends first: a session's last messages are committed before its end, so the read
            // after this one has them.
            let ended = openIDs.isEmpty ? [] : try await store.endedSessions(among: openIDs)
            var messages: [MessageFacts] = []
            while messages.count < Self.budget {
                let page = try await cursor.nextFacts(SessionFilter(), limit: Self.page)
                messages += page
                if page.count < Self.page { break }
            }
            return (ended, messages, try await Self.messages(of: watched, among: messages, in: store))
        }
        var changed: [Int64: SessionSummary] = [:]
        for session in ended {
            open.track(session)
            changed[session.id] = session
        }
        // Sessions seen for the first time are read once; those that ended lately and their late
        // messages are not read again. One whose first message is here has nothing counted before
        // it, so its row will do; one open since before following started is counted by the store.
        let unseen = Set(messages.map(\.sessionID)).subtracting(open.ids).subtracting(changed.keys)
            .filter { !journal.hasEnded($0) }
        let begun = Set(messages.lazy.filter { $0.seq == 1 }.map(\.sessionID)).intersection(unseen)
        let unseenSessions = try await store.read { [unseen] store in
            try await store.sessions(begun.sorted(), countingOpen: false)
                + store.sessions(unseen.subtracting(begun).sorted(), countingOpen: true)
        }
        for session in unseenSessions {
            open.track(session)
            changed[session.id] = session
        }
        for message in messages {
            if let session = open.count(message) { changed[message.sessionID] = session }
        }

        sequence += 1
        var changes = changed.keys.sorted().map { SessionChange(session: changed[$0]!) }
        let index = Dictionary(uniqueKeysWithValues: changes.indices.map { (changes[$0].session.id, $0) })
        for message in messages {
            guard let at = index[message.sessionID] else { continue }
            changes[at].note(message)
        }
        journal.record(changes, at: sequence)
        let id = FeedPosition(epoch: epoch, sequence: sequence).text
        var everySession = ByteBuffer()
        for change in changes { everySession.writeString(EventStream.event("session", id: id, data: change.json)) }
        return LiveUpdate(sequence: sequence, changes: changes, messages: watchedMessages, everySession: everySession)
    }
}

extension LiveFeed {
    /// The whole messages of the sessions `watched` (session pages) among those the feed read the
    /// facts of, by session: only a page shows bytes, so only its session's are read.
    fileprivate static func messages(of watched: Set<Int64>, among facts: [MessageFacts],
                                     in store: any RecordingStore) async throws -> [Int64: [StoredMessage]] {
        var ids: [Int64: (first: Int64, last: Int64, count: Int)] = [:]
        for fact in facts where watched.contains(fact.sessionID) {
            let seen = ids[fact.sessionID]
            ids[fact.sessionID] = (seen?.first ?? fact.id, fact.id, (seen?.count ?? 0) + 1)
        }
        var messages: [Int64: [StoredMessage]] = [:]
        for (session, range) in ids {
            // A session's messages are committed in id order: those after the first read are these.
            messages[session] = try await store.messages(ofSession: session, after: range.first - 1, limit: range.count)
                .filter { $0.id <= range.last }
        }
        return messages
    }
}

/// Where a list watcher is in a feed: the SSE event id `EPOCH-SEQUENCE`.
struct FeedPosition: Sendable, Equatable {
    var epoch: String
    var sequence: Int

    init(epoch: String, sequence: Int) {
        self.epoch = epoch
        self.sequence = sequence
    }

    init?(_ text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 2, let sequence = Int(parts[1]), sequence >= 0 else { return nil }
        self.init(epoch: String(parts[0]), sequence: sequence)
    }

    var text: String { "\(epoch)-\(sequence)" }
}

/// The sessions that changed in recent updates, each with its latest summary: what a list that
/// reconnects missed. It keeps the most recently changed sessions, up to `capacity`.
struct ChangeJournal {
    static let capacity = 20_000

    /// Every change after this sequence is here.
    private var completeAfter = 0
    private var latest: [Int64: (sequence: Int, change: SessionChange)] = [:]

    mutating func record(_ changes: [SessionChange], at sequence: Int) {
        for var change in changes {
            if let earlier = latest[change.session.id]?.change { change.merge(earlier) }
            latest[change.session.id] = (sequence, change)
        }
        guard latest.count > Self.capacity else { return }
        // Forget the oldest quarter at once (whole updates), not one session per update.
        let sequences = latest.values.map(\.sequence).sorted()
        forget(through: sequences[sequences.count - Self.capacity * 3 / 4 - 1])
    }

    /// Changes up to `sequence` are no longer known.
    mutating func forget(through sequence: Int) {
        completeAfter = max(completeAfter, sequence)
        latest = latest.filter { $0.value.sequence > sequence }
    }

    /// True when the session's latest change here is its end.
    func hasEnded(_ id: Int64) -> Bool {
        latest[id]?.change.session.endedMicros != nil
    }

    /// The sessions changed after `sequence`, oldest id first; nil when the journal does not reach back that far.
    func changes(after sequence: Int) -> [SessionChange]? {
        guard sequence >= completeAfter else { return nil }
        return latest.values.filter { $0.sequence > sequence }.map(\.change).sorted { $0.session.id < $1.session.id }
    }
}
