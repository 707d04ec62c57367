import CSQLite
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SQLite's "copy the bytes now" destructor; the C macro does not import into Swift.
let SQLITE_TRANSIENT = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

/// One SQLite connection. Not thread-safe: each thread or task that touches the
/// database owns its own `Database` (one writer, any number of readers in WAL mode).
public final class Database {
    public enum Mode: Sendable {
        case readOnly, readWrite
        /// Read-only, taking the file for one nobody writes: no -wal or -shm file is made or read
        /// (a WAL database in a directory this user may not write, with no writer at work).
        case immutable
    }

    let handle: OpaquePointer
    public let path: String
    public let mode: Mode
    private var statementCache: [String: Statement] = [:]

    /// Process-wide SQLite settings, applied once before the first connection opens.
    private static let configureSQLite: Void = {
        _ = wirelog_sqlite3_disable_memory_statistics()
    }()

    /// Opens `path`. Read-write opens create the file (mode 0600) when it is missing.
    public init(path: String, mode: Mode, busyTimeoutMilliseconds: Int32 = 5_000) throws {
        Database.configureSQLite
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        var name = path
        switch mode {
        case .readOnly: flags |= SQLITE_OPEN_READONLY
        case .readWrite: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        case .immutable:
            flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI
            // In a URI the path is percent-encoded: every byte but unreserved ones and '/'.
            let encoded = path.utf8.map { byte -> String in
                let plain = (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || Array("-._~/".utf8).contains(byte)
                return plain ? String(UnicodeScalar(byte)) : "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }.joined()
            name = "file:\(encoded)?immutable=1"
        }
        if mode == .readWrite {
            try Database.createPrivateFileIfMissing(path)
        }
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(name, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(handle)
            throw SQLiteError(code: rc, message: message)
        }
        self.handle = handle
        self.path = path
        self.mode = mode
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
        SegmentFiles.registerReader(on: handle, databasePath: path)
    }

    /// Recordings hold user data: a new database file is created 0600. SQLite gives the
    /// -wal and -shm files the permissions of the database file.
    private static func createPrivateFileIfMissing(_ path: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            close(fd)
        } else if errno != EEXIST {
            let reason = String(cString: strerror(errno))
            throw SQLiteError(code: SQLITE_CANTOPEN, message: "cannot create \(path): \(reason)")
        }
    }

    deinit {
        statementCache.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements that take no parameters and return no rows.
    public func execute(_ sql: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if rc != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? lastErrorMessage
            sqlite3_free(errorMessage)
            throw SQLiteError(code: sqlite3_extended_errcode(handle), message: message, sql: sql)
        }
    }

    /// A prepared statement for `sql`, compiled once per connection and reused.
    /// Reset it (or step it to the end) when done: a statement left on a row holds a read transaction.
    public func cached(_ sql: String) throws -> Statement {
        if let statement = statementCache[sql] {
            statement.reset()
            return statement
        }
        let statement = try Statement(database: self, sql: sql)
        statementCache[sql] = statement
        return statement
    }

    /// A statement compiled for one use (finalized when released).
    public func prepare(_ sql: String) throws -> Statement {
        try Statement(database: self, sql: sql)
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ kind: TransactionKind = .immediate, _ body: () throws -> T) throws -> T {
        try execute("BEGIN \(kind.rawValue)")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            rollbackIfOpen()
            throw error
        }
    }

    public enum TransactionKind: String, Sendable {
        case deferred = "DEFERRED", immediate = "IMMEDIATE"
    }

    /// Rolls back the open transaction, if any. Safe to call after a failed COMMIT.
    public func rollbackIfOpen() {
        if sqlite3_get_autocommit(handle) == 0 {
            _ = try? execute("ROLLBACK")
        }
    }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    public var changes: Int { Int(sqlite3_changes(handle)) }
    var lastErrorMessage: String { String(cString: sqlite3_errmsg(handle)) }

    func error(_ rc: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: sqlite3_extended_errcode(handle) != 0 ? sqlite3_extended_errcode(handle) : rc,
                    message: lastErrorMessage, sql: sql)
    }

    // MARK: Convenience queries

    /// The first column of the first row, or nil when there is no row.
    /// Copies the whole WAL into the database file and truncates it to nothing: after a delete,
    /// no page image holding the deleted rows is left in the -wal file. Waits (busy timeout) for
    /// readers that still use old pages; throws `SQLiteStoreError.checkpointBlocked` when they outlast it.
    public func checkpointTruncating() throws {
        let statement = try prepare("PRAGMA wal_checkpoint(TRUNCATE)")
        guard try statement.step() else { return }
        if statement.int(0) != 0 { throw SQLiteStoreError.checkpointBlocked(path: path) }
    }

    public func scalarInt(_ sql: String, _ values: SQLValue...) throws -> Int64? {
        let statement = try cached(sql)
        defer { statement.reset() }
        try statement.bind(values)
        guard try statement.step() else { return nil }
        return statement.isNull(0) ? nil : statement.int64(0)
    }

    public func scalarText(_ sql: String, _ values: SQLValue...) throws -> String? {
        let statement = try cached(sql)
        defer { statement.reset() }
        try statement.bind(values)
        guard try statement.step() else { return nil }
        return statement.text(0)
    }

    /// Runs a statement with parameters that returns no rows.
    public func run(_ sql: String, _ values: SQLValue...) throws {
        let statement = try cached(sql)
        try statement.bind(values)
        try statement.run()
    }
}
