import Recording
@testable import SQLiteBackend
import Testing
import TestSupport

/// `MessageInsert` keeps `session_verbs` / `session_reply_codes` (no triggers since migration 0003).
@Suite struct MessageInsertTests {
    private struct RolledBack: Error {}

    private func openWithSession(_ dir: TemporaryDirectory) throws -> Database {
        let db = try SQLiteFile.openForWriting(path: dir.file("m.sqlite"))
        try db.execute("""
            INSERT INTO sessions (id, kind, decoding, client_host, client_port, server_host, server_port, started_us)
            VALUES (7, 'server', 'lab', '10.0.0.1', 5000, '127.0.0.1', 7070, 1)
            """)
        return db
    }

    private func command(_ seq: Int64, _ verb: String) -> RecordedMessage {
        RecordedMessage(seq: seq, atMicros: seq, sender: .client, raw: Array("\(verb)\n".utf8), verb: verb)
    }

    @Test func everyVerbAndCodeOfASessionIsNotedOnce() throws {
        let dir = TemporaryDirectory()
        let db = try openWithSession(dir)
        let insert = try MessageInsert(db)
        // More distinct verbs than the per-session cache holds, each used twice.
        let verbs = (0..<40).map { "V\($0)" }
        try db.transaction {
            for (offset, verb) in (verbs + verbs).enumerated() { try insert.insert(command(Int64(offset + 1), verb), sessionID: 7) }
            try insert.insert(RecordedMessage(seq: 81, atMicros: 81, sender: .server, raw: Array("100 OK\n".utf8), replyCode: 100), sessionID: 7)
        }
        #expect(try db.scalarInt("SELECT count(*) FROM session_verbs WHERE session_id = 7") == 40)
        #expect(try db.scalarInt("SELECT count(*) FROM session_reply_codes WHERE session_id = 7 AND reply_code = 100") == 1)
    }

    /// Sessions interleaved over several spans (of 256 ids) and blocks (of 64 sessions): each reads
    /// back exactly its own messages in wire order, a span is noted once per session, a rolled-back
    /// span is noted again, and deleting a session takes its spans and leaves the others whole.
    @Test func spansFindEachSessionsMessagesAcrossSpansAndBlocks() throws {
        let dir = TemporaryDirectory()
        let db = try openWithSession(dir)
        try db.execute("""
            INSERT INTO sessions (id, kind, decoding, client_host, client_port, server_host, server_port, started_us)
            VALUES (8, 'server', 'lab', '10.0.0.1', 5001, '127.0.0.1', 7070, 1), (64, 'server', 'lab', '10.0.0.1', 5002, '127.0.0.1', 7070, 1)
            """)
        let insert = try MessageInsert(db)
        #expect(throws: RolledBack.self) {
            try db.transaction {
                try insert.insert(command(1, "HELO"), sessionID: 64)
                throw RolledBack()
            }
        }
        insert.forgetAll()
        let sessions: [Int64] = [7, 8, 64]
        try db.transaction {
            for seq in Int64(1)...400 {
                for session in sessions where session != 8 || seq % 3 == 0 {
                    try insert.insert(command(seq, "DATA"), sessionID: session)
                }
            }
        }
        let queries = SessionQueries(database: db)
        #expect(try queries.messages(ofSession: 7, after: 0, limit: 1_000).map(\.seq) == Array(1...400))
        #expect(try queries.messages(ofSession: 8, after: 0, limit: 1_000).map(\.seq) == Array(stride(from: 3, through: 400, by: 3)))
        #expect(try queries.messages(ofSession: 64, after: 0, limit: 1_000).map(\.seq) == Array(1...400))
        // Paging from the middle of a span.
        let firstPage = try queries.messages(ofSession: 7, after: 0, limit: 150)
        #expect(try queries.messages(ofSession: 7, after: firstPage.last!.id, limit: 1_000).map(\.seq) == Array(151...400))
        let spans = try db.scalarInt("SELECT count(*) FROM message_spans")
        let expected = try db.scalarInt("SELECT count(*) FROM (SELECT DISTINCT session_id, id / 256 FROM messages)")
        #expect(spans == expected)

        #expect(try queries.delete(sessions: [8]) == 1)
        #expect(try db.scalarInt("SELECT count(*) FROM message_spans WHERE session_id = 8") == 0)
        #expect(try db.scalarInt("SELECT count(*) FROM messages WHERE session_id = 8") == 0)
        #expect(try queries.messages(ofSession: 7, after: 0, limit: 1_000).count == 400)
        #expect(try queries.messages(ofSession: 64, after: 0, limit: 1_000).count == 400)
    }

    @Test func aRolledBackValueIsNotedAgainAfterForgetAll() throws {
        let dir = TemporaryDirectory()
        let db = try openWithSession(dir)
        let insert = try MessageInsert(db)
        #expect(throws: RolledBack.self) {
            try db.transaction {
                try insert.insert(command(1, "HELO"), sessionID: 7)
                throw RolledBack()
            }
        }
        insert.forgetAll()
        try db.transaction { try insert.insert(command(1, "HELO"), sessionID: 7) }
        #expect(try db.scalarText("SELECT verb FROM session_verbs WHERE session_id = 7") == "HELO")
    }

    @Test func aFailedStatementIsDescribedOnOneLineWithItsWholeSQL() throws {
        let dir = TemporaryDirectory()
        let db = try openWithSession(dir)
        let sql = """
            INSERT INTO sessions (kind, decoding, client_host, client_port, server_host, server_port, started_us)
            VALUES (NULL, 'lab', '10.0.0.1', 5000, '127.0.0.1', 7070, 1)
            """
        do {
            try db.execute(sql)
            Issue.record("the NOT NULL constraint should have refused the missing kind")
        } catch let error as SQLiteError {
            #expect(!error.description.contains("\n"))
            #expect(error.description.hasSuffix("[in: \(sql.split(whereSeparator: \.isWhitespace).joined(separator: " "))]"))
        }
    }
}
