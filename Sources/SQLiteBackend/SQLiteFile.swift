import CSQLite
import Dispatch
import Migrations
import Recording
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opening wirelog SQLite files: identity check, pragmas, migrations.
public enum SQLiteFile {
    /// The SQLite library in use ("3.40.1"): linked from the system, so it is the host's (`--version`).
    public static var libraryVersion: String { String(cString: sqlite3_libversion()) }

    /// Opens (creating if needed) a database to record into, migrated to this binary's schema.
    /// `upgrading` hears of each migration about to be applied to an existing database: some
    /// rebuild a table, which takes a while on a large one.
    public static func openForWriting(path: String, durability: Durability = .normal,
                                      busyTimeoutMilliseconds: Int32 = 5_000,
                                      migrator: Migrator? = nil,
                                      upgrading: (Migration) -> Void = { _ in }) throws -> Database {
        let migrator = try migrator ?? Migrator()
        let db: Database
        do {
            db = try Database(path: path, mode: .readWrite, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        } catch let error as SQLiteError {
            throw SQLiteStoreError.cannotOpen(path: path, reason: error.message)
        }
        let isNew = try migrator.checkIdentity(db)
        if !isNew { try refuseIfDamaged(db, path: path) }
        if sqlite3_db_readonly(db.handle, "main") == 1 {
            throw SQLiteStoreError.readOnly(path: path, reason: "the file is read-only")
        }
        do {
            let journal = try db.scalarText("PRAGMA journal_mode = WAL")
            guard journal?.lowercased() == "wal" else {
                throw SQLiteStoreError.cannotOpen(path: path, reason: "SQLite refused WAL mode (journal_mode is \(journal ?? "unknown"))")
            }
            // An 8 MiB page cache (default 2) keeps the pages that queries and the recorder revisit in
            // memory; a WAL that grew under sustained load is cut back to 64 MiB when it restarts.
            // synchronous=NORMAL in WAL mode: a commit survives a process crash, not an OS crash.
            // secure_delete: what delete and prune remove is overwritten with zeros, not left in free pages.
            let synchronous = durability == .full ? "FULL" : "NORMAL"
            try db.execute("""
                PRAGMA synchronous = \(synchronous); PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;
                PRAGMA cache_size = -8192; PRAGMA journal_size_limit = 67108864
                """)
            try migrator.migrate(db, nowMicros: WallClock.nowMicros(), willApply: isNew ? { _ in } : upgrading)
        } catch let error as SQLiteError where error.isReadOnly || error.primaryCode == SQLITE_CANTOPEN {
            throw SQLiteStoreError.readOnly(path: path, reason: error.message)
        } catch let error as SQLiteError {
            throw SQLiteStoreError.cannotOpen(path: path, reason: isNew ? "creating the schema failed: \(error)" : error.description)
        }
        return db
    }

    /// How long opening a file to write spends looking for damage.
    static let damageCheckBudgetMilliseconds: UInt64 = 150

    /// Refuses a damaged file before anything is written to it, with SQLite's `quick_check` cut
    /// off after `damageCheckBudgetMilliseconds`: a file of a few hundred megabytes is checked
    /// whole, a larger one as far as the budget reaches (damage beyond that stops the recorder
    /// when a commit meets it).
    static func refuseIfDamaged(_ db: Database, path: String) throws {
        let deadline = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        defer { deadline.deallocate() }
        deadline.pointee = DispatchTime.now().uptimeNanoseconds + damageCheckBudgetMilliseconds * 1_000_000
        sqlite3_progress_handler(db.handle, 10_000, { context in
            let deadline = context!.assumingMemoryBound(to: UInt64.self).pointee
            return DispatchTime.now().uptimeNanoseconds > deadline ? 1 : 0
        }, deadline)
        defer { sqlite3_progress_handler(db.handle, 0, nil, nil) }
        var problems: [String] = []
        do {
            let check = try db.prepare("PRAGMA quick_check(3)")
            while try check.step() { problems.append(check.text(0) ?? "") }
        } catch let error as SQLiteError where error.primaryCode == SQLITE_INTERRUPT {
            return  // the budget ran out with nothing found
        } catch let error as SQLiteError where error.isCorrupt {
            throw SQLiteStoreError.corrupt(path: path, detail: "SQLite: \(error.message)")
        }
        guard problems != ["ok"] else { return }
        let detail = problems.map { $0.split(whereSeparator: \.isNewline).joined(separator: " ") }.joined(separator: "; ")
        throw SQLiteStoreError.corrupt(path: path, detail: "SQLite's quick_check: \(detail)")
    }

    private static func openReadOnly(_ path: String, mode: Database.Mode) throws -> Database {
        do {
            return try Database(path: path, mode: mode)
        } catch let error as SQLiteError {
            throw SQLiteStoreError.cannotOpen(path: path, reason: error.message)
        }
    }

    /// Opens an existing database for queries; it must be a wirelog database at this binary's schema.
    public static func openForReading(path: String, migrator: Migrator? = nil) throws -> Database {
        let migrator = try migrator ?? Migrator()
        guard access(path, F_OK) == 0 else {
            if errno == EACCES { throw SQLiteStoreError.unreadable(path: path) }
            throw SQLiteStoreError.missingFile(path: path)
        }
        guard access(path, R_OK) == 0 else { throw SQLiteStoreError.unreadable(path: path) }
        var db = try openReadOnly(path, mode: .readOnly)
        let isNew: Bool
        do {
            isNew = try migrator.checkIdentity(db)
        } catch let error as SQLiteError where error.isReadOnly || error.primaryCode == SQLITE_CANTOPEN {
            // A WAL database needs its -shm file, which this user can neither make here (the
            // directory is not theirs to write) nor, when a writer left one, read. With none left
            // (no writer at work) the file alone is the whole database: read it as it is.
            guard access(path + "-wal", F_OK) != 0, access(path + "-shm", F_OK) != 0 else {
                throw SQLiteStoreError.unreadable(path: path)
            }
            db = try openReadOnly(path, mode: .immutable)
            isNew = try migrator.checkIdentity(db)
        }
        if isNew {
            throw SQLiteStoreError.noSchemaYet(path: path)
        }
        let pending = try migrator.pendingMigrations(db)
        if let first = pending.first {
            throw SQLiteStoreError.schemaTooOld(path: path, databaseVersion: first.version - 1, binaryVersion: migrator.latestVersion)
        }
        try db.execute("PRAGMA foreign_keys = ON")
        return db
    }
}
