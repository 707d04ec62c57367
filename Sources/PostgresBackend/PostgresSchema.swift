import Foundation
import Logging
import Migrations
import PostgresNIO

/// Brings a PostgreSQL database to this binary's schema (`migrations/postgres/`), or explains why
/// it will not. All in one transaction under an advisory lock, so recorders starting together
/// apply each migration once; a refusal touches nothing.
struct PostgresSchema {
    /// The advisory lock every wirelog takes to migrate: "WRLG".
    static let lockKey: Int64 = 0x5752_4C47
    let migrations: [Migration]

    init(migrations: [Migration] = Migration.embedded(.postgres)) {
        self.migrations = migrations
    }

    var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Applies what is missing; `willApply` hears of each migration applied to an existing schema.
    func migrate(_ link: PostgresLink, nowMicros: Int64, willApply: @escaping (Migration) -> Void) async throws {
        try await link.transaction { link in
            try await link.rows("SELECT pg_advisory_xact_lock(\(Self.lockKey))")
            let applied = try await appliedVersions(link)
            if applied == nil {
                try await refuseForeignTables(link)
                try await link.rows("""
                    CREATE TABLE wirelog_migrations (
                        version    integer PRIMARY KEY,
                        name       text    NOT NULL,
                        checksum   text    NOT NULL,
                        applied_us bigint  NOT NULL
                    )
                    """)
            }
            for migration in try pending(applied ?? [:], link.url) {
                if applied?.isEmpty == false { willApply(migration) }
                do {
                    for statement in Self.statements(migration.sql) { try await link.rows(PostgresQuery(unsafeSQL: statement)) }
                } catch let error as PostgresStoreError {
                    throw PostgresStoreError.migrationFailed(
                        target: link.url.description, version: migration.version, name: migration.name, reason: error.description)
                }
                try await link.rows("""
                    INSERT INTO wirelog_migrations (version, name, checksum, applied_us)
                    VALUES (\(migration.version), \(migration.name), \(migration.checksum), \(nowMicros))
                    """)
            }
        }
    }

    /// The statements of a migration file, for the extended protocol that runs one at a time:
    /// each ends with `;` at the end of a line (comment lines dropped). The files are written so.
    static func statements(_ sql: String) -> [String] {
        var statements: [String] = []
        var current: [Substring] = []
        for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("--") || trimmed.isEmpty { continue }
            current.append(line)
            if trimmed.hasSuffix(";") {
                statements.append(current.joined(separator: "\n"))
                current.removeAll()
            }
        }
        if !current.isEmpty { statements.append(current.joined(separator: "\n")) }
        return statements
    }

    /// For readers: the schema must be there and current. Read in one snapshot: a recorder that
    /// commits the schema between two of these reads must not make the tables look foreign.
    func check(_ link: PostgresLink) async throws {
        try await link.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { link in
            guard let applied = try await appliedVersions(link) else {
                try await refuseForeignTables(link)
                throw PostgresStoreError.noSchemaYet(target: link.url.description)
            }
            if let first = try pending(applied, link.url).first {
                throw PostgresStoreError.schemaTooOld(
                    target: link.url.description, databaseVersion: first.version - 1, binaryVersion: latestVersion)
            }
        }
    }

    /// For changes to a store that must exist (prune, delete): a database without wirelog's schema
    /// is refused as a reader refuses it, not given the schema.
    func requireExisting(_ link: PostgresLink) async throws {
        guard try await appliedVersions(link) == nil else { return }
        try await refuseForeignTables(link)
        throw PostgresStoreError.noSchemaYet(target: link.url.description)
    }

    /// Version → checksum of what was applied; nil when the database has no wirelog schema.
    private func appliedVersions(_ link: PostgresLink) async throws -> [Int: String]? {
        let exists = try await link.rows("SELECT to_regclass('wirelog_migrations') IS NOT NULL")
        guard try exists.first?.decode(Bool.self) == true else { return nil }
        var applied: [Int: String] = [:]
        for row in try await link.rows("SELECT version, checksum FROM wirelog_migrations") {
            let (version, checksum) = try row.decode((Int, String).self)
            applied[version] = checksum
        }
        return applied
    }

    private func pending(_ applied: [Int: String], _ url: PostgresURL) throws -> [Migration] {
        if let newest = applied.keys.max(), newest > latestVersion {
            throw PostgresStoreError.schemaTooNew(target: url.description, databaseVersion: newest, binaryVersion: latestVersion)
        }
        for migration in migrations {
            if let checksum = applied[migration.version], checksum != migration.checksum {
                throw PostgresStoreError.migrationEdited(target: url.description, version: migration.version, name: migration.name)
            }
        }
        return migrations.filter { applied[$0.version] == nil }
    }

    /// A database that holds tables but no wirelog schema belongs to something else.
    private func refuseForeignTables(_ link: PostgresLink) async throws {
        let tables = try await link.rows(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
        if try tables.first?.decode(Int.self) ?? 0 > 0 {
            throw PostgresStoreError.notAWirelogDatabase(target: link.url.description)
        }
    }
}
