import Foundation
import Logging
import PostgresNIO
import Recording

/// Follows a PostgreSQL store through the ranges of message ids that recorders announce on
/// `channel` as they commit (see `PostgresStore.follow()`). A connection of its own listens.
final class PostgresFollowCursor: FollowCursor, @unchecked Sendable {
    static let channel = "wirelog_messages"

    private let store: PostgresStore
    private let listener: PostgresLink
    private var listening: Task<Void, Never>?
    private let lock = NSLock()
    // Guarded by `lock`: committed transactions not yet read, oldest first, and why listening stopped.
    private var pending: [Committed] = []
    private var failure: PostgresStoreError?

    private init(store: PostgresStore, listener: PostgresLink) {
        self.store = store
        self.listener = listener
    }

    static func start(store: PostgresStore, url: PostgresURL, logger: Logger) async throws -> PostgresFollowCursor {
        let listener = try await PostgresLink.connect(url, logger: logger)
        let cursor = PostgresFollowCursor(store: store, listener: listener)
        let notifications: PostgresNotificationSequence
        do {
            notifications = try await listener.connection.listen(channel)
        } catch {
            await listener.close()
            throw PostgresStoreError.from(error, url: url)
        }
        cursor.listening = Task {
            do {
                for try await notification in notifications {
                    guard let committed = Committed(notification.payload) else { continue }
                    cursor.lock.withLock { cursor.pending.append(committed) }
                }
                cursor.lock.withLock { cursor.failure = .connectionLost(target: url.description) }
            } catch {
                cursor.lock.withLock { cursor.failure = PostgresStoreError.from(error, url: url) }
            }
        }
        return cursor
    }

    deinit {
        listening?.cancel()
        let listener = self.listener
        Task { await listener.close() }
    }

    /// What a recorder's transaction announced: its id (as rows' `xmin` shows it) and the range
    /// of message ids it inserted ("731:12-40").
    struct Committed {
        var transaction: Int64
        var ids: ClosedRange<Int64>

        init?(_ payload: String) {
            let parts = payload.split(whereSeparator: { $0 == ":" || $0 == "-" })
            guard parts.count == 3, let transaction = Int64(parts[0]), let low = Int64(parts[1]),
                  let high = Int64(parts[2]), low <= high else { return nil }
            self.transaction = transaction
            ids = low...high
        }
    }

    func next(_ filter: SessionFilter, limit: Int) async throws -> [StoredMessage] {
        try await next(filter, limit: limit, as: StoredMessage.self)
    }

    func nextFacts(_ filter: SessionFilter, limit: Int) async throws -> [MessageFacts] {
        try await next(filter, limit: limit, as: MessageFacts.self)
    }

    private func next<Row: PostgresMessageRow>(_ filter: SessionFilter, limit: Int, as row: Row.Type) async throws -> [Row] {
        var found: [Row] = []
        while found.count < limit {
            let (next, failure): (Committed?, PostgresStoreError?) = lock.withLock { (pending.first, self.failure) }
            guard let next else {
                if let failure { throw failure }
                break
            }
            let wanted = limit - found.count
            let page: [Row] = try await store.messages(in: next.ids, insertedBy: next.transaction, filter: filter, limit: wanted)
            found += page
            lock.withLock {
                // What is left of the range when the page was full.
                if page.count == wanted, let last = page.last, last.id < next.ids.upperBound {
                    pending[0].ids = last.id + 1...next.ids.upperBound
                } else {
                    pending.removeFirst()
                }
            }
        }
        return found
    }
}
