import Foundation
import Logging
import Recording

/// What changed in the store since the previous update: sessions that began, grew or ended, and
/// the messages committed. `position` is the highest message id seen so far (the SSE event id).
struct LiveUpdate: Sendable {
    var sequence: Int
    var position: Int64
    var sessions: [SessionSummary] = []
    var messages: [StoredMessage] = []
}

/// One poller per viewer, however many pages watch: it reads what the store's `follow()` cursor
/// has committed and which sessions are open, and hands every watcher the same update. It polls
/// only while someone watches, so a viewer nobody looks at costs the recorder nothing.
actor LiveFeed {
    static let interval: Duration = .milliseconds(500)
    /// Most messages read per update; a burst larger than this is read over the next updates.
    static let batch = 2_000

    private let store: ViewerStore
    private let logger: Logger
    private var watchers: [UUID: AsyncStream<LiveUpdate>.Continuation] = [:]
    private var polling: Task<Void, Never>?
    private var cursor: (any FollowCursor)?
    private var position: Int64 = 0
    private var sequence = 0
    /// Open sessions as last shown, to tell which changed and which ended.
    private var open: [Int64: SessionSummary] = [:]

    init(store: ViewerStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Updates from now on, and the position they start after. Updates a slow watcher cannot
    /// take are dropped: it sees a gap in `sequence` and starts over.
    func watch() async throws -> (position: Int64, sequence: Int, updates: AsyncStream<LiveUpdate>) {
        if cursor == nil {
            cursor = try await store.read { try await $0.follow() }
            position = try await store.read { try await $0.latestMessageID() }
        }
        let id = UUID()
        let (stream, continuation) = AsyncStream.makeStream(of: LiveUpdate.self, bufferingPolicy: .bufferingNewest(32))
        continuation.onTermination = { _ in Task { await self.unwatch(id) } }
        watchers[id] = continuation
        if polling == nil { polling = Task { await self.poll() } }
        return (position, sequence, stream)
    }

    private func unwatch(_ id: UUID) {
        watchers[id] = nil
        if watchers.isEmpty {
            polling?.cancel()
            polling = nil
        }
    }

    private func poll() async {
        while !Task.isCancelled {
            do {
                let update = try await nextUpdate()
                for watcher in watchers.values { watcher.yield(update) }
            } catch {
                // The store failed (gone, locked): ViewerStore reopens it; start following afresh.
                logger.warning("live updates: the store cannot be read: \(error)")
                cursor = nil
            }
            try? await Task.sleep(for: Self.interval)
        }
    }

    private func nextUpdate() async throws -> LiveUpdate {
        if cursor == nil { cursor = try await store.read { try await $0.follow() } }
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
        position = max(position, messages.last?.id ?? 0)
        var update = LiveUpdate(sequence: sequence, position: position, messages: messages)
        update.sessions = ended + nowOpen.filter { open[$0.id] != $0 }
        open = Dictionary(uniqueKeysWithValues: nowOpen.map { ($0.id, $0) })
        return update
    }
}
