import Store

/// A session row as stored, read back with plain SQL for assertions.
public struct SessionRow: Sendable, Equatable {
    public var id: Int64
    public var kind: String
    public var decoding: String
    public var clientHost: String
    public var clientPort: Int
    public var serverHost: String
    public var serverPort: Int
    public var startedMicros: Int64
    public var endedMicros: Int64?
    public var endReason: String?
    public var bytesFromClient: Int64
    public var bytesFromServer: Int64
    public var messageCount: Int64
}

/// A message row as stored.
public struct MessageRow: Sendable, Equatable {
    public var sessionID: Int64
    public var seq: Int64
    public var atMicros: Int64
    public var sender: String
    public var raw: [UInt8]
    public var verb: String?
    public var payload: [UInt8]?
    public var replyCode: Int?

    public var rawText: String { String(decoding: raw, as: UTF8.self) }
}

public enum RecordedRows {
    public static func sessions(_ path: String) throws -> [SessionRow] {
        let db = try Store.openForReading(path: path)
        let statement = try db.prepare("""
            SELECT id, kind, decoding, client_host, client_port, server_host, server_port, started_us, ended_us,
                   end_reason, bytes_from_client, bytes_from_server, message_count
            FROM sessions ORDER BY id
            """)
        var rows: [SessionRow] = []
        while try statement.step() {
            rows.append(SessionRow(
                id: statement.int64(0), kind: statement.text(1) ?? "", decoding: statement.text(2) ?? "",
                clientHost: statement.text(3) ?? "", clientPort: statement.int(4),
                serverHost: statement.text(5) ?? "", serverPort: statement.int(6),
                startedMicros: statement.int64(7), endedMicros: statement.optionalInt64(8),
                endReason: statement.text(9), bytesFromClient: statement.int64(10),
                bytesFromServer: statement.int64(11), messageCount: statement.int64(12)))
        }
        return rows
    }

    /// Messages of one session (or all, in session then seq order).
    public static func messages(_ path: String, session: Int64? = nil) throws -> [MessageRow] {
        let db = try Store.openForReading(path: path)
        let statement = try db.prepare("""
            SELECT session_id, seq, at_us, sender, raw, verb, payload, reply_code FROM messages
            WHERE ?1 IS NULL OR session_id = ?1 ORDER BY session_id, seq
            """)
        try statement.bind([session.map(SQLValue.integer) ?? .null])
        var rows: [MessageRow] = []
        while try statement.step() {
            rows.append(MessageRow(
                sessionID: statement.int64(0), seq: statement.int64(1), atMicros: statement.int64(2),
                sender: statement.text(3) ?? "", raw: statement.blob(4) ?? [], verb: statement.text(5),
                payload: statement.blob(6), replyCode: statement.optionalInt(7)))
        }
        return rows
    }

    /// `PRAGMA integrity_check`'s answer ("ok" when the file is sound).
    public static func integrityCheck(_ path: String) throws -> String {
        let db = try Database(path: path, mode: .readOnly)
        return try db.scalarText("PRAGMA integrity_check") ?? "no answer"
    }
}
