import CSQLite
import Recording

/// A failed SQLite call: the extended result code, SQLite's message, and the SQL that failed.
public struct SQLiteError: StoreFailure, Sendable {
    public let code: Int32
    public let message: String
    public let sql: String?

    public init(code: Int32, message: String, sql: String? = nil) {
        self.code = code
        self.message = message
        self.sql = sql
    }

    /// The primary result code (SQLITE_BUSY, SQLITE_FULL, …) without the extended bits.
    public var primaryCode: Int32 { code & 0xFF }

    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }
    public var isReadOnly: Bool { primaryCode == SQLITE_READONLY }
    public var isDiskFull: Bool { primaryCode == SQLITE_FULL }
    public var isNotADatabase: Bool { primaryCode == SQLITE_NOTADB }
    /// The file is damaged: nothing that writes to it can succeed until it is replaced.
    public var isCorrupt: Bool { primaryCode == SQLITE_CORRUPT || primaryCode == SQLITE_NOTADB }

    public var description: String {
        let name = String(cString: sqlite3_errstr(code))
        var text = "SQLite error \(code) (\(name)): \(message)"
        // Whole and on one line: a log line must not be cut mid-word or broken in two.
        if let sql { text += " [in: \(sql.split(whereSeparator: \.isWhitespace).joined(separator: " "))]" }
        return text
    }
}
