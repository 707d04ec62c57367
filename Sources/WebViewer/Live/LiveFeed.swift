import Foundation
import Logging
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

    init(session: SessionSummary) {
        self.session = session
        json = EventSelection.json(SessionView(session))
    }
}

/// What changed in the store since the previous update: sessions that began, grew or ended, and
/// the messages committed, in commit order (the store's `follow()` cursor).
struct LiveUpdate: Sendable {
    var sequence: Int
    /// Updates before this one were not all seen (the feed was idle or the store failed and
    /// following started afresh): what a watcher shows may be stale.
    var afterGap = false
    var changes: [SessionChange] = []
    var messages: [StoredMessage] = []
}

/// One poller per viewer, however many pages watch: it reads what the store's `follow()` cursor
/// has committed and which sessions are open, and hands every watcher the same update. It polls
/// only while someone watches (and `linger` after, so a page that reconnects finds what it
/// missed), so a viewer nobody looks at costs the recorder nothing.
///
/// Positions are update sequence numbers of this feed, named with `epoch` (they mean nothing to
/// another viewer process): message ids cannot serve, since on PostgreSQL several recorders
/// commit ids out of order.
actor LiveFeed {
    static let interval: Duration = .milliseconds(500)
    /// Most messages read per update; a burst larger than this is read over the next updates.
    static let batch = 2_000
    /// How long polling goes on after the last watcher left.
    static let linger: Duration = .seconds(30)

    /// Names this feed's positions.
    nonisolated let epoch = String(UInt32.random(in: .min ... .max), radix: 36)
    private let store: ViewerStore
    private let logger: Logger
    private var watchers: [UUID: AsyncStream<LiveUpdate>.Continuation] = [:]
    private var polling: Task<Void, Never>?
    private var cursor: (any FollowCursor)?
    private var sequence = 0
    private var journal = ChangeJournal()
    /// Open sessions as last shown, to tell which changed and which ended.
    private var open: [Int64: SessionSummary] = [:]

    init(store: ViewerStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// A watcher: the position now, the changes after `position` (nil when that is not known:
    /// another epoch, or further back than the journal keeps) and the updates from now on.
    /// Updates a slow watcher cannot take are dropped: it sees a gap in `sequence`.
    func watch(since position: FeedPosition?) async throws
        -> (position: Int, missed: [SessionChange]?, updates: AsyncStream<LiveUpdate>) {
        if cursor == nil { try await startFollowing() }
        let id = UUID()
        let (stream, continuation) = AsyncStream.makeStream(of: LiveUpdate.self, bufferingPolicy: .bufferingNewest(32))
        continuation.onTermination = { _ in Task { await self.unwatch(id) } }
        watchers[id] = continuation
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
        open = [:]
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
                for watcher in watchers.values { watcher.yield(update) }
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
        let (messages, nowOpen, ended) = try await store.read { [open] store in
            let messages = try await cursor.next(SessionFilter(), limit: Self.batch)
            let nowOpen = try await store.list(SessionFilter(endReason: SessionFilter.openReason), limit: 500)
            // Sessions that were open and are no longer, or that began and ended between two polls.
            let openIDs = Set(nowOpen.map(\.id))
            let gone = Set(open.keys).union(messages.map(\.sessionID)).subtracting(openIDs)
            var ended: [SessionSummary] = []
            for id in gone.sorted() { ended.append(try await store.session(id)) }
            return (messages, nowOpen, ended)
        }
        sequence += 1
        var changes = (ended + nowOpen.filter { open[$0.id] != $0 }).map { SessionChange(session: $0) }
        let index = Dictionary(uniqueKeysWithValues: changes.indices.map { (changes[$0].session.id, $0) })
        for message in messages {
            guard let at = index[message.sessionID] else { continue }
            if let verb = message.verb { changes[at].verbs.insert(verb.uppercased()) }
            if let code = message.replyCode { changes[at].codes.insert(code) }
        }
        open = Dictionary(uniqueKeysWithValues: nowOpen.map { ($0.id, $0) })
        journal.record(changes, at: sequence)
        return LiveUpdate(sequence: sequence, changes: changes, messages: messages)
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
            if let earlier = latest[change.session.id]?.change {
                change.verbs.formUnion(earlier.verbs)
                change.codes.formUnion(earlier.codes)
            }
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

    /// The sessions changed after `sequence`, oldest id first; nil when the journal does not reach back that far.
    func changes(after sequence: Int) -> [SessionChange]? {
        guard sequence >= completeAfter else { return nil }
        return latest.values.filter { $0.sequence > sequence }.map(\.change).sorted { $0.session.id < $1.session.id }
    }
}
