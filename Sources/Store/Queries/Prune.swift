/// What `prune` removed and what it gave back.
public struct PruneResult: Sendable, Equatable {
    public var sessions: Int64
    public var messages: Int64
    /// Sessions old enough but still open (being recorded): never removed.
    public var openSessionsKept: Int64
    /// Bytes of pages freed inside the file by the delete.
    public var freedBytes: Int64
    /// The database's size (pages × page size) before and after, VACUUM included.
    public var sizeBefore: Int64
    public var sizeAfter: Int64
}

/// Deletes old recordings. Needs a connection from `Store.openForWriting`.
public struct Pruner {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Removes every ended session that started before `cutoffMicros`, with its messages, in one
    /// transaction; then, with `vacuum`, rewrites the file so the freed space returns to the system.
    public func prune(startedBefore cutoffMicros: Int64, vacuum: Bool) throws -> PruneResult {
        let sizeBefore = try databaseSize()
        let freeBefore = try freeBytes()
        let (sessions, messages, open) = try database.transaction(.immediate) {
            let chosen = "SELECT id FROM sessions WHERE started_us < ?1 AND ended_us IS NOT NULL"
            let sessions = try database.scalarInt("SELECT count(*) FROM (\(chosen))", .integer(cutoffMicros)) ?? 0
            let open = try database.scalarInt(
                "SELECT count(*) FROM sessions WHERE started_us < ?1 AND ended_us IS NULL", .integer(cutoffMicros)) ?? 0
            try database.run(MessageLookup.deleteMessages(ofSessions: chosen), .integer(cutoffMicros))
            let messages = Int64(database.changes)
            try database.run("DELETE FROM sessions WHERE id IN (\(chosen))", .integer(cutoffMicros))
            return (sessions, messages, open)
        }
        let freed = try freeBytes() - freeBefore
        if vacuum {
            try database.execute("VACUUM")
            try database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
        return PruneResult(sessions: sessions, messages: messages, openSessionsKept: open,
                           freedBytes: max(freed, 0), sizeBefore: sizeBefore, sizeAfter: try databaseSize())
    }

    private func databaseSize() throws -> Int64 {
        let pages = try database.scalarInt("PRAGMA page_count") ?? 0
        return pages * (try database.scalarInt("PRAGMA page_size") ?? 0)
    }

    private func freeBytes() throws -> Int64 {
        let pages = try database.scalarInt("PRAGMA freelist_count") ?? 0
        return pages * (try database.scalarInt("PRAGMA page_size") ?? 0)
    }
}
