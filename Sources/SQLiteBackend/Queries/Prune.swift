import Recording

/// Deletes old recordings. Needs a connection from `SQLiteFile.openForWriting`.
struct Pruner {
    let database: Database

    init(database: Database) {
        self.database = database
    }

    /// Removes every ended session that started before `cutoffMicros`, with its messages, in one
    /// transaction; then, with `vacuum`, rewrites the file so the freed space returns to the system.
    func prune(startedBefore cutoffMicros: Int64, vacuum: Bool) throws -> PruneResult {
        let sizeBefore = try databaseSize()
        let freeBefore = try freeBytes()
        var segments = SegmentEraser(database: database)
        let (sessions, messages, open) = try database.transaction(.immediate) {
            let chosen = "SELECT id FROM sessions WHERE started_us < ?1 AND ended_us IS NOT NULL"
            let sessions = try database.scalarInt("SELECT count(*) FROM (\(chosen))", .integer(cutoffMicros)) ?? 0
            let open = try database.scalarInt(
                "SELECT count(*) FROM sessions WHERE started_us < ?1 AND ended_us IS NULL", .integer(cutoffMicros)) ?? 0
            try segments.forgetMessages(where: "m.session_id IN (\(chosen))", [.integer(cutoffMicros)])
            try database.run("DELETE FROM messages WHERE id IN (\(MessageLookup.messageIDs(ofSessions: chosen)))", .integer(cutoffMicros))
            let messages = Int64(database.changes)
            try database.run(MessageLookup.deleteSpans(ofSessions: chosen), .integer(cutoffMicros))
            try database.run("DELETE FROM sessions WHERE id IN (\(chosen))", .integer(cutoffMicros))
            return (sessions, messages, open)
        }
        try segments.erase()
        let freed = try freeBytes() - freeBefore
        if vacuum { try database.execute("VACUUM") }
        try database.checkpointTruncating()
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
