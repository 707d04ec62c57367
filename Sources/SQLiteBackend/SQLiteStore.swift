import Foundation
import Recording

/// A SQLite file as a `RecordingStore`. One connection, used by one caller at a time.
public final class SQLiteStore: RecordingStore, @unchecked Sendable {
    private let lock = NSLock()
    // Guarded by `lock`: a `Database` is used by one thread at a time.
    private let queries: SessionQueries

    public var path: String { queries.database.path }

    /// Takes ownership of `database`, from `SQLiteFile.openForReading` (queries only) or
    /// `SQLiteFile.openForWriting` (prune, delete and write too).
    public init(database: Database) {
        queries = SessionQueries(database: database)
    }

    /// The SQL-level queries (plans included), for tests and benchmarks that look at them.
    public func withQueries<T>(_ body: (SessionQueries) throws -> T) rethrows -> T {
        try lock.withLock { try body(queries) }
    }

    public func list(_ filter: SessionFilter, limit: Int, before: SessionListPosition?) async throws -> [SessionSummary] {
        try withQueries { try $0.list(filter, limit: limit, before: before) }
    }

    public func countSessions(_ filter: SessionFilter, before: SessionListPosition?, upTo bound: Int) async throws -> Int {
        try withQueries { try $0.countSessions(filter, before: before, upTo: bound) }
    }

    public func session(_ id: Int64) async throws -> SessionSummary {
        try withQueries { try $0.session(id) }
    }

    public func sessions(_ ids: [Int64], countingOpen: Bool) async throws -> [SessionSummary] {
        try withQueries { try $0.sessions(ids, countingOpen: countingOpen) }
    }

    public func status() async throws -> StoreStatus {
        try withQueries { try $0.status() }
    }

    public func endedSessions(among ids: [Int64]) async throws -> [SessionSummary] {
        try withQueries { try $0.endedSessions(among: ids) }
    }

    public func messages(ofSession id: Int64, after afterID: Int64, limit: Int) async throws -> [StoredMessage] {
        try withQueries { try $0.messages(ofSession: id, after: afterID, limit: limit) }
    }

    public func search(_ pattern: SearchPattern, filter: SessionFilter, limit: Int, context: Int) async throws -> [SearchHit] {
        try withQueries { try $0.search(pattern, filter: filter, limit: limit, context: context) }
    }

    public func stats(_ filter: SessionFilter, topClients: Int) async throws -> SessionStats {
        try withQueries { try $0.stats(filter, topClients: topClients) }
    }

    public func latestMessageID() async throws -> Int64 {
        try withQueries { try $0.latestMessageID() }
    }

    public func messages(after afterID: Int64, filter: SessionFilter, limit: Int) async throws -> [StoredMessage] {
        try withQueries { try $0.messages(after: afterID, filter: filter, limit: limit) }
    }

    public func messageFacts(after afterID: Int64, filter: SessionFilter, limit: Int) async throws -> [MessageFacts] {
        try withQueries { try $0.messageFacts(after: afterID, filter: filter, limit: limit) }
    }

    public func prune(startedBefore cutoffMicros: Int64, compact: Bool) async throws -> PruneResult {
        try withQueries { try Pruner(database: $0.database).prune(startedBefore: cutoffMicros, vacuum: compact) }
    }

    public func delete(sessions ids: [Int64]) async throws -> Int {
        try withQueries { try $0.delete(sessions: ids) }
    }

    public func write(_ sessions: [(session: CompleteSession, origin: String?)]) async throws -> [Int64?] {
        try withQueries { try $0.write(sessions) }
    }

    public func identity() async throws -> String {
        try withQueries { try $0.database.scalarText("SELECT id FROM store_identity") ?? "" }
    }

    public func session(origin: String) async throws -> Int64? {
        try withQueries { try $0.database.scalarInt("SELECT id FROM sessions WHERE origin = ?", .text(origin)) }
    }

    public func redaction() async throws -> StoreRedaction {
        try withQueries { try SQLiteRedaction.read($0.database) }
    }

    public func close() async {}
}
