import Backends
import Client
import Foundation
import Recording
import Testing
import TestSupport

/// `sessions delete` and `prune` forget for good: after them the bytes are not in the store's
/// files (nor in a pg_dump), the other sessions are intact, and --dry-run deletes nothing.
@Suite struct ForgettingTests {
    /// Three served sessions, each sending a unique marker; their ids in order.
    private func recordMarkedSessions(_ store: StoreLocation) async throws -> [Int64] {
        let server = try await TestServer.start(store: store)
        for marker in ["marker-alpha-7f3a", "marker-bravo-91c2", "marker-charlie-5d0e"] {
            let connection = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
            for command in ["HELO x\n", "DATA \(marker)\n", "QUIT\n"] {
                try await connection.send(Array(command.utf8))
                _ = try await connection.readReply()
            }
            await connection.close()
        }
        await server.stop()
        return try await RecordedRows.sessions(store).map(\.id)
    }

    @Test(arguments: TestBackend.allCases)
    func deleteRemovesTheBytesFromTheDiskAndKeepsTheRest(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        let ids = try await recordMarkedSessions(store)
        #expect(ids.count == 3)
        #expect(try StoreFiles.occurrences(of: "marker-bravo-91c2", in: store) > 0)

        let dryRun = try WirelogProcess.run(["sessions", "delete", String(ids[1]), "--dry-run", "--db", store.argument])
        #expect(dryRun.failure == nil)
        #expect(dryRun.stdoutText.contains("would delete 1 session and 6 messages; nothing was deleted (--dry-run)"))
        #expect(try await RecordedRows.sessions(store).count == 3)

        let deleted = try WirelogProcess.run(["sessions", "delete", String(ids[1]), "--db", store.argument])
        #expect(deleted.failure == nil)
        #expect(deleted.stdoutText == "deleted 1 session and 6 messages\n")
        #expect(try StoreFiles.occurrences(of: "marker-bravo-91c2", in: store) == 0)
        #expect(try StoreFiles.occurrences(of: "marker-alpha-7f3a", in: store) > 0)
        #expect(try await RecordedRows.sessions(store).map(\.id) == [ids[0], ids[2]])
        #expect(try await RecordedRows.messages(store, session: ids[0]).count == 6)
        if let path = store.sqlitePath {
            #expect(try RecordedRows.integrityCheck(path) == "ok")
        }

        // A missing id: exit 1 and nothing deleted.
        let missing = try WirelogProcess.run(["sessions", "delete", String(ids[1]), String(ids[2]), "--db", store.argument])
        #expect(missing.status == 1)
        #expect(try await RecordedRows.sessions(store).count == 2)
    }

    @Test(arguments: TestBackend.allCases)
    func deleteByFiltersAndPruneHaveADryRun(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        let ids = try await recordMarkedSessions(store)

        let pruneDry = try WirelogProcess.run(["sessions", "prune", "--older-than", "0s", "--dry-run", "--db", store.argument])
        #expect(pruneDry.failure == nil)
        #expect(pruneDry.stdoutText.hasPrefix("would remove 3 sessions and 18 messages that started before "))
        #expect(try await RecordedRows.sessions(store).count == 3)

        let byVerb = try WirelogProcess.run(["sessions", "delete", "--verb", "DATA", "--since", "1h", "--db", store.argument])
        #expect(byVerb.failure == nil)
        #expect(byVerb.stdoutText == "deleted 3 sessions and 18 messages\n")
        #expect(try await RecordedRows.sessions(store).isEmpty)
        for marker in ["marker-alpha-7f3a", "marker-bravo-91c2", "marker-charlie-5d0e"] {
            #expect(try StoreFiles.occurrences(of: marker, in: store) == 0, "\(marker)")
        }
        _ = ids
    }

    @Test(arguments: TestBackend.allCases)
    func pruneRemovesTheBytesFromTheDisk(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        _ = try await recordMarkedSessions(store)
        let pruned = try WirelogProcess.run(["sessions", "prune", "--older-than", "0s", "--db", store.argument])
        #expect(pruned.failure == nil)
        #expect(try StoreFiles.occurrences(of: "marker-charlie-5d0e", in: store) == 0)
        if let path = store.sqlitePath {
            #expect(try RecordedRows.integrityCheck(path) == "ok")
        }
    }
}

/// `prune` and `delete` ask a person at a terminal first (issue 12: a prune emptied a live
/// store without a word); `--yes`, and anything not on a terminal, goes ahead.
@Suite struct DeletionConfirmationTests {
    private func storeWithOldSessions() async throws -> (TemporaryDirectory, StoreLocation) {
        let directory = TemporaryDirectory()
        let store = StoreLocation.sqlite(path: directory.file("confirm.sqlite"))
        let populate = try WirelogProcess.run(["bench", "populate", "--db", store.argument, "--sessions", "5", "--days", "30"])
        #expect(populate.failure == nil)
        return (directory, store)
    }

    @Test func aTerminalIsAskedAndNoDeletesNothing() async throws {
        let (directory, store) = try await storeWithOldSessions()
        let prune = try TerminalProcess(["sessions", "prune", "--older-than", "0s", "--db", store.argument], stderrOnTerminal: true)
        try prune.waitFor("for good? [y/N] ")
        prune.type("n\n")
        #expect(try prune.wait() == 1)
        #expect(try await RecordedRows.sessions(store).count == 5)

        let delete = try TerminalProcess(["sessions", "delete", "--all", "--db", store.argument], stderrOnTerminal: true)
        try delete.waitFor("delete 5 sessions and ")
        delete.type("y\n")
        #expect(try delete.wait() == 0)
        #expect(try await RecordedRows.sessions(store).isEmpty)
        _ = directory
    }

    @Test func yesAndPipesAreNotAsked() async throws {
        let (directory, store) = try await storeWithOldSessions()
        let ids = try await RecordedRows.sessions(store).map { String($0.id) }
        let yes = try TerminalProcess(["sessions", "delete", ids[0], "--yes", "--db", store.argument], stderrOnTerminal: true)
        #expect(try yes.wait() == 0)
        // Piped: no terminal to ask on.
        let piped = try WirelogProcess.run(["sessions", "prune", "--older-than", "0s", "--db", store.argument])
        #expect(piped.failure == nil)
        #expect(piped.stdoutText.contains("removed 4 sessions"), "\(piped.stdoutText)")
        #expect(try await RecordedRows.sessions(store).isEmpty)
        _ = directory
    }
}
