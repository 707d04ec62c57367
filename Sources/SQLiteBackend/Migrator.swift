import CSQLite
import Migrations

/// Brings a database to the schema this binary knows, or explains why it will not.
public struct Migrator: Sendable {
    /// `PRAGMA application_id` of every wirelog database: "WRLG".
    public static let applicationID: Int32 = 0x5752_4C47

    public let migrations: [Migration]

    public init(migrations: [Migration] = Migration.embedded(.sqlite)) throws {
        for (previous, next) in zip(migrations, migrations.dropFirst()) where previous.version >= next.version {
            throw SQLiteStoreError.invalidMigrationName("\(next.version)_\(next.name).sql (versions must increase)")
        }
        self.migrations = migrations
    }

    public var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Refuses files that are not wirelog databases before anything writes to them.
    /// Returns true for an empty database that may become one.
    func checkIdentity(_ db: Database) throws -> Bool {
        let applicationID: Int64
        let objectCount: Int64
        do {
            applicationID = try db.scalarInt("PRAGMA application_id") ?? 0
            objectCount = try db.scalarInt("SELECT count(*) FROM sqlite_schema") ?? 0
        } catch let error as SQLiteError where error.isNotADatabase {
            throw SQLiteStoreError.notADatabase(path: db.path)
        }
        if applicationID == Int64(Migrator.applicationID) { return false }
        if applicationID == 0 && objectCount == 0 { return true }
        throw SQLiteStoreError.notAWirelogDatabase(path: db.path)
    }

    /// The applied migrations recorded in the database: version → checksum.
    func appliedVersions(_ db: Database) throws -> [Int: (name: String, checksum: String)] {
        let exists = try db.scalarInt(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'wirelog_migrations'") ?? 0
        guard exists > 0 else { return [:] }
        let statement = try db.prepare("SELECT version, name, checksum FROM wirelog_migrations")
        var applied: [Int: (name: String, checksum: String)] = [:]
        while try statement.step() {
            applied[statement.int(0)] = (statement.text(1) ?? "", statement.text(2) ?? "")
        }
        return applied
    }

    /// Checks what was applied against what this binary carries; returns what is missing.
    func pendingMigrations(_ db: Database) throws -> [Migration] {
        let applied = try appliedVersions(db)
        if let newest = applied.keys.max(), newest > latestVersion {
            throw SQLiteStoreError.schemaTooNew(path: db.path, databaseVersion: newest, binaryVersion: latestVersion)
        }
        for migration in migrations {
            if let record = applied[migration.version], record.checksum != migration.checksum {
                throw SQLiteStoreError.migrationEdited(
                    path: db.path, version: migration.version, name: migration.name)
            }
        }
        return migrations.filter { applied[$0.version] == nil }
    }

    /// Applies each missing migration in its own IMMEDIATE transaction; a new database gets its
    /// whole schema in one, so a reader waiting for it (`sessions follow`) never sees half of it.
    func migrate(_ db: Database, nowMicros: Int64, willApply: (Migration) -> Void = { _ in }) throws {
        let pending = try pendingMigrations(db)
        if try appliedVersions(db).isEmpty {
            try db.transaction(.immediate) {
                for migration in pending { try apply(migration, db, nowMicros: nowMicros) }
            }
            return
        }
        for migration in pending {
            willApply(migration)
            try db.transaction(.immediate) { try apply(migration, db, nowMicros: nowMicros) }
        }
    }

    private func apply(_ migration: Migration, _ db: Database, nowMicros: Int64) throws {
        // Another process may have applied it since we looked.
        if try appliedVersions(db)[migration.version] != nil { return }
        try db.execute("""
            PRAGMA application_id = \(Migrator.applicationID);
            CREATE TABLE IF NOT EXISTS wirelog_migrations (
                version    INTEGER PRIMARY KEY,
                name       TEXT    NOT NULL,
                checksum   TEXT    NOT NULL,
                applied_us INTEGER NOT NULL
            );
            """)
        try db.execute(migration.sql)
        if try db.scalarInt("SELECT count(*) FROM pragma_foreign_key_check") ?? 0 > 0 {
            throw SQLiteStoreError.migrationFailed(
                version: migration.version, name: migration.name, reason: "it leaves foreign keys violated")
        }
        try db.run("INSERT INTO wirelog_migrations (version, name, checksum, applied_us) VALUES (?, ?, ?, ?)",
                   .int(migration.version), .text(migration.name), .text(migration.checksum), .integer(nowMicros))
    }
}
