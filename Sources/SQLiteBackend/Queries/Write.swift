import Recording

extension SessionQueries {
    /// Deletes these sessions and their messages in one transaction, then empties the WAL so the
    /// old pages go from the disk too (the deleted rows are zeroed: secure_delete, and so are their
    /// bytes in segment files); returns how many existed.
    func delete(sessions ids: [Int64]) throws -> Int {
        var segments = SegmentEraser(database: database)
        let deleted = try database.transaction(.immediate) {
            var deleted = 0
            for id in ids {
                try segments.forgetMessages(where: "m.id IN (\(MessageLookup.messageIDs(ofSession: "?1")))", [.integer(id)])
                try database.run("DELETE FROM messages WHERE id IN (\(MessageLookup.messageIDs(ofSession: "?1")))", .integer(id))
                try database.run(MessageLookup.deleteSpans(ofSessions: "SELECT ?1 AS id"), .integer(id))
                try database.run("DELETE FROM sessions WHERE id = ?", .integer(id))
                deleted += database.changes
            }
            return deleted
        }
        try segments.erase()
        try database.checkpointTruncating()
        return deleted
    }

    /// Writes whole sessions in one transaction (synthetic data, copies); a session whose `origin`
    /// is already stored is skipped (nil).
    func write(_ sessions: [(session: CompleteSession, origin: String?)]) throws -> [Int64?] {
        let exists = try database.cached("SELECT 1 FROM sessions WHERE origin = ?")
        let insertSession = try database.cached("""
            INSERT INTO sessions (kind, decoding, recorder, client_host, client_port, server_host, server_port, started_us,
                                  ended_us, end_reason, bytes_from_client, bytes_from_server, message_count, replay_of, origin,
                                  tls, sni, faults)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let insertMessage = try MessageInsert(database)
        return try database.transaction(.immediate) {
            try sessions.map { session, origin -> Int64? in
                if let origin {
                    exists.reset()
                    try exists.bind([.text(origin)])
                    if try exists.step() { return nil }
                }
                let info = session.info
                let end = session.end
                insertSession.reset()
                try insertSession.bind([
                    .text(info.kind.rawValue), .text(info.decoding.rawValue), .text(info.recorder),
                    .text(info.clientHost), .int(info.clientPort), .text(info.serverHost), .int(info.serverPort),
                    .integer(info.startedMicros), end.map { .integer($0.atMicros) } ?? .null, .optionalText(session.endReason),
                    .integer(end?.bytesFromClient ?? 0), .integer(end?.bytesFromServer ?? 0), .integer(end?.messageCount ?? 0),
                    info.replayOf.map(SQLValue.integer) ?? .null, .optionalText(origin),
                    .optionalText(info.tls?.jsonText), .optionalText(info.tls?.serverName),
                    .optionalText(session.faults.isEmpty ? nil : session.faults.jsonText),
                ])
                try insertSession.run()
                let id = database.lastInsertRowID
                for message in session.messages { try insertMessage.insert(message, sessionID: id) }
                insertMessage.forget(session: id)
                return id
            }
        }
    }
}
