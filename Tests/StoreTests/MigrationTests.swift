import Foundation
import Migrations
import Recording
import SQLiteBackend
import Testing
import TestSupport

private func fileBytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

private func extraMigration(_ sql: String = "CREATE TABLE later_feature (id INTEGER PRIMARY KEY);") throws -> Migration {
    try #require(Migration(fileName: "0099_later_feature.sql", bytes: Array(sql.utf8)))
}

@Suite struct MigrationTests {
    @Test func everyEmbeddedMigrationIsNamedNNNNName() throws {
        #expect(!Migration.embedded(.sqlite).isEmpty)
        #expect(Migration.embedded(.sqlite).count == embeddedMigrationFiles["sqlite"]?.count)
        _ = try Migrator()  // versions strictly increase
    }

    @Test func aNewDatabaseGetsTheWholeSchemaAndMode0600() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("new.sqlite")
        var announced: [String] = []
        let db = try SQLiteFile.openForWriting(path: path) { announced.append($0.name) }
        #expect(announced.isEmpty, "creating a database is not an upgrade")
        #expect(try db.scalarInt("SELECT count(*) FROM wirelog_migrations") == Int64(Migration.embedded(.sqlite).count))
        #expect(try db.scalarInt("PRAGMA application_id") == Int64(Migrator.applicationID))
        #expect(try db.scalarText("PRAGMA journal_mode") == "wal")
        #expect(try db.scalarInt("PRAGMA foreign_keys") == 1)
        #expect(try db.scalarInt("SELECT count(*) FROM sqlite_schema WHERE name IN ('sessions', 'messages')") == 2)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func reopeningAppliesNothingTwice() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("again.sqlite")
        let first = try SQLiteFile.openForWriting(path: path)
        let appliedAt = try first.scalarInt("SELECT max(applied_us) FROM wirelog_migrations")
        let second = try SQLiteFile.openForWriting(path: path)
        #expect(try second.scalarInt("SELECT count(*) FROM wirelog_migrations") == Int64(Migration.embedded(.sqlite).count))
        #expect(try second.scalarInt("SELECT max(applied_us) FROM wirelog_migrations") == appliedAt)
    }

    @Test func aMissingMigrationIsAppliedInOrder() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("upgrade.sqlite")
        _ = try SQLiteFile.openForWriting(path: path)
        let newer = try Migrator(migrations: Migration.embedded(.sqlite) + [extraMigration()])
        let db = try SQLiteFile.openForWriting(path: path, migrator: newer)
        #expect(try db.scalarInt("SELECT max(version) FROM wirelog_migrations") == 99)
        #expect(try db.scalarText("SELECT name FROM wirelog_migrations WHERE version = 99") == "later_feature")
        #expect(try db.scalarInt("SELECT count(*) FROM later_feature") == 0)
    }

    /// Version 3 rebuilds `messages` (block index, no foreign key, no triggers): rows recorded under
    /// version 2 come through whole, with the session_verbs rows their triggers wrote.
    @Test func version3KeepsMessagesRecordedBeforeIt() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("v2.sqlite")
        let version2 = try Migrator(migrations: Migration.embedded(.sqlite).filter { $0.version <= 2 })
        let old = try SQLiteFile.openForWriting(path: path, migrator: version2)
        try old.execute("""
            INSERT INTO sessions (id, kind, decoding, client_host, client_port, server_host, server_port, started_us)
            VALUES (1, 'server', 'lab', '10.0.0.1', 5000, '127.0.0.1', 7070, 1), (200, 'server', 'lab', '10.0.0.2', 5001, '127.0.0.1', 7070, 2);
            INSERT INTO messages (session_id, seq, at_us, sender, raw, verb, reply_code) VALUES
                (1, 1, 10, 'client', x'48454c4f0a', 'HELO', NULL), (200, 1, 11, 'client', x'51554954', 'QUIT', NULL),
                (1, 2, 12, 'server', x'313030204f4b0a', NULL, 100);
            """)
        let everyRow = """
            SELECT group_concat(id || ',' || session_id || ',' || seq || ',' || at_us || ',' || sender || ',' || hex(raw)
                                || ',' || ifnull(verb, '-') || ',' || ifnull(reply_code, '-'), ';')
            FROM (SELECT * FROM messages ORDER BY id)
            """
        let before = try old.scalarText(everyRow)

        var announced: [String] = []
        let db = try SQLiteFile.openForWriting(path: path) { announced.append($0.name) }
        #expect(announced == Migration.embedded(.sqlite).filter { $0.version > 2 }.map(\.name))
        #expect(try db.scalarInt("SELECT max(version) FROM wirelog_migrations") == Int64(Migration.embedded(.sqlite).last!.version))
        #expect(try db.scalarText(everyRow) == before)
        #expect(try SessionQueries(database: db).messages(ofSession: 1, after: 0, limit: 100).map(\.seq) == [1, 2])
        #expect(try SessionQueries(database: db).messages(ofSession: 200, after: 0, limit: 100).map(\.seq) == [1], "migration 13 notes the spans of recorded messages")
        #expect(try db.scalarText("SELECT group_concat(verb) FROM session_verbs WHERE session_id = 200") == "QUIT")
        #expect(try db.scalarInt("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'") == 0)
    }

    /// Versions 7 and 9 rebuild `sessions` (to admit kind mock, then any decoding): every column,
    /// the replay link, the indexes and the side tables' rows (which a dropped parent table would
    /// take with it) come through.
    @Test(arguments: [7, 9])
    func rebuildingSessionsKeepsEverySessionAndSideRow(version: Int) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("before.sqlite")
        let version6 = try Migrator(migrations: Migration.embedded(.sqlite).filter { $0.version < 7 })
        let old = try SQLiteFile.openForWriting(path: path, migrator: version6)
        try old.execute("""
            INSERT INTO sessions (id, kind, decoding, client_host, client_port, server_host, server_port, started_us, ended_us,
                                  end_reason, bytes_from_client, bytes_from_server, message_count, recorder, origin, tls, sni)
            VALUES (1, 'server', 'lab', '10.0.0.1', 5000, '127.0.0.1', 7070, 1, 5, 'quit', 5, 7, 2, 'lab-1', 'abc/9', '{"client":{}}', 'a.example');
            INSERT INTO sessions (id, kind, decoding, client_host, client_port, server_host, server_port, started_us, replay_of)
            VALUES (2, 'replay', 'lab', '127.0.0.1', 5001, '127.0.0.1', 7071, 2, 1);
            INSERT INTO session_verbs (verb, session_id) VALUES ('HELO', 1);
            INSERT INTO session_reply_codes (reply_code, session_id) VALUES (100, 1);
            """)
        let everySession = "SELECT group_concat(quote(id) || quote(kind) || quote(decoding) || quote(client_host) || quote(client_port) || quote(server_host) || quote(server_port) || quote(started_us) || quote(ended_us) || quote(end_reason) || quote(bytes_from_client) || quote(bytes_from_server) || quote(message_count) || quote(replay_of) || quote(recorder) || quote(origin) || quote(tls) || quote(sni), ';') FROM (SELECT * FROM sessions ORDER BY id)"
        let indexes = "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name IN ('sessions', 'session_verbs', 'session_reply_codes') AND sql IS NOT NULL ORDER BY name)"
        let before = (try old.scalarText(everySession), try old.scalarText(indexes))

        let db = try SQLiteFile.openForWriting(
            path: path, migrator: try Migrator(migrations: Migration.embedded(.sqlite).filter { $0.version <= version }))
        #expect(try db.scalarText(everySession) == before.0)
        let added = version >= 9 ? ["sessions_by_decoding"] : []
        #expect(try db.scalarText(indexes) == (before.1!.split(separator: ",").map(String.init) + added).sorted().joined(separator: ","))
        #expect(try db.scalarText("SELECT verb FROM session_verbs WHERE session_id = 1") == "HELO")
        #expect(try db.scalarInt("SELECT reply_code FROM session_reply_codes WHERE session_id = 1") == 100)
        try db.execute("""
            INSERT INTO sessions (id, kind, decoding, client_host, client_port, server_host, server_port, started_us)
            VALUES (3, 'mock', '\(version >= 9 ? "http" : "raw")', '127.0.0.1', 5002, '127.0.0.1', 7072, 3);
            INSERT INTO messages (session_id, seq, at_us, sender, raw, answered_by) VALUES (3, 1, 4, 'client', x'41', 17);
            DELETE FROM sessions WHERE id = 1;
            """)
        #expect(try db.scalarInt("SELECT answered_by FROM messages WHERE session_id = 3") == 17)
        #expect(try db.scalarInt("SELECT count(*) FROM sessions WHERE id = 2 AND replay_of IS NULL") == 1, "the replay link still sets NULL")
        #expect(try db.scalarInt("SELECT count(*) FROM session_verbs") == 0, "the side tables still follow their session")
    }

    @Test func aFailingMigrationLeavesNothingBehind() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("failing.sqlite")
        _ = try SQLiteFile.openForWriting(path: path)
        let broken = try Migrator(migrations: Migration.embedded(.sqlite) + [
            extraMigration("CREATE TABLE half_done (id INTEGER); THIS IS NOT SQL;"),
        ])
        #expect(throws: SQLiteStoreError.self) { try SQLiteFile.openForWriting(path: path, migrator: broken) }
        let db = try SQLiteFile.openForWriting(path: path)
        #expect(try db.scalarInt("SELECT count(*) FROM sqlite_schema WHERE name = 'half_done'") == 0)
    }

    /// A reader that finds the file while a recorder creates it (`sessions follow` waiting for it)
    /// sees no schema or all of it: a new database's migrations commit together.
    @Test func aNewDatabaseGetsItsSchemaInOneTransaction() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("new.sqlite")
        let broken = try Migrator(migrations: Migration.embedded(.sqlite) + [extraMigration("THIS IS NOT SQL;")])
        #expect(throws: SQLiteStoreError.self) { try SQLiteFile.openForWriting(path: path, migrator: broken) }
        #expect(throws: SQLiteStoreError.noSchemaYet(path: path)) { try SQLiteFile.openForReading(path: path) }
    }

    @Test func anEditedAppliedMigrationIsRefused() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("edited.sqlite")
        _ = try SQLiteFile.openForWriting(path: path, migrator: Migrator(migrations: Migration.embedded(.sqlite) + [extraMigration()]))
        let edited = try Migrator(migrations: Migration.embedded(.sqlite) + [
            extraMigration("CREATE TABLE later_feature (id INTEGER PRIMARY KEY, extra TEXT);"),
        ])
        #expect(throws: SQLiteStoreError.migrationEdited(path: path, version: 99, name: "later_feature")) {
            try SQLiteFile.openForWriting(path: path, migrator: edited)
        }
        #expect(throws: SQLiteStoreError.migrationEdited(path: path, version: 99, name: "later_feature")) {
            try SQLiteFile.openForReading(path: path, migrator: edited)
        }
    }

    @Test func aNewerSchemaIsRefusedUntouched() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("newer.sqlite")
        _ = try SQLiteFile.openForWriting(path: path, migrator: Migrator(migrations: Migration.embedded(.sqlite) + [extraMigration()]))
        let before = fileBytes(path)
        let latest = try Migrator().latestVersion
        let expected = SQLiteStoreError.schemaTooNew(path: path, databaseVersion: 99, binaryVersion: latest)
        #expect(throws: expected) { try SQLiteFile.openForWriting(path: path) }
        #expect(throws: expected) { try SQLiteFile.openForReading(path: path) }
        #expect(fileBytes(path) == before)
        #expect(expected.description.contains("upgrade wirelog"))
    }

    @Test func aSQLiteFileOfAnotherApplicationIsRefusedUntouched() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("other.sqlite")
        do {
            let other = try Database(path: path, mode: .readWrite)
            try other.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO accounts VALUES (1, 'x');")
        }
        let before = fileBytes(path)
        #expect(throws: SQLiteStoreError.notAWirelogDatabase(path: path)) { try SQLiteFile.openForWriting(path: path) }
        #expect(throws: SQLiteStoreError.notAWirelogDatabase(path: path)) { try SQLiteFile.openForReading(path: path) }
        #expect(fileBytes(path) == before)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func aFileThatIsNotSQLiteIsRefusedUntouched() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("notes.txt")
        let text = Data(String(repeating: "these are my notes, not a database\n", count: 200).utf8)
        #expect(FileManager.default.createFile(atPath: path, contents: text))
        #expect(throws: SQLiteStoreError.notADatabase(path: path)) { try SQLiteFile.openForWriting(path: path) }
        #expect(throws: SQLiteStoreError.notADatabase(path: path)) { try SQLiteFile.openForReading(path: path) }
        #expect(fileBytes(path) == text)
    }

    @Test func readingNeedsAnExistingUpToDateDatabase() throws {
        let dir = TemporaryDirectory()
        let missing = dir.file("missing.sqlite")
        #expect(throws: SQLiteStoreError.missingFile(path: missing)) { try SQLiteFile.openForReading(path: missing) }
        #expect(!FileManager.default.fileExists(atPath: missing))

        let older = dir.file("older.sqlite")
        _ = try SQLiteFile.openForWriting(path: older)
        let newer = try Migrator(migrations: Migration.embedded(.sqlite) + [extraMigration()])
        #expect(throws: SQLiteStoreError.self) { try SQLiteFile.openForReading(path: older, migrator: newer) }
        do {
            _ = try SQLiteFile.openForReading(path: older, migrator: newer)
        } catch let error as SQLiteStoreError {
            guard case .schemaTooOld = error else { Issue.record("expected schemaTooOld, got \(error)"); return }
        }
    }
}
