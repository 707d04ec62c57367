import Client
import Foundation
import Recording
import SQLiteBackend
import Testing
import TestSupport

/// Commands that meet a database while something else writes it: follow and prune.
@Suite struct SessionsLiveTests {
    @Test(arguments: TestBackend.allCases)
    func followPrintsMessagesAnotherProcessRecords(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let plain = try WirelogProcess(["sessions", "follow", "--db", fixture.store.argument, "--max-messages", "4", "--interval", "50ms"],
                                       environment: ["TZ": "UTC"])
        let json = try WirelogProcess(["sessions", "follow", "--db", fixture.store.argument, "--verb", "DATA", "--json",
                                       "--max-messages", "1", "--interval", "50ms"])
        try plain.waitForStderr(containing: "following")
        try json.waitForStderr(containing: "following")

        let server = try await TestServer.start(store: fixture.store)
        let connection = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        for (command, reply) in [("HELO\n", "100 OK\n"), ("DATA follow \u{1b}me\n", "300 DRCV\n")] {
            try await connection.send(Array(command.utf8))
            #expect(try await connection.readReply() == Array(reply.utf8))
        }

        let printed = try plain.wait(timeout: 30)
        #expect(printed.failure == nil)
        let lines = printed.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.count == 5)
        #expect(lines[0].hasPrefix("session 4  server  127.0.0.1:"))
        #expect(lines[1].hasPrefix("#4 ") && lines[1].hasSuffix("→  HELO  HELO\\n"))
        #expect(lines[2].hasSuffix("←  100   100 OK\\n"))
        #expect(lines[3].hasSuffix("→  DATA  DATA follow \\x1bme\\n"))
        #expect(!printed.stdout.contains(0x1B))

        let data = try json.wait(timeout: 30)
        let records = try data.jsonLines()
        #expect(records.count == 1)
        #expect(records.first?["verb"] as? String == "DATA" && records.first?["session"] as? Int == 4)
        #expect(base64Bytes(records.first?["payload"]) == Array("follow \u{1b}me".utf8))

        await connection.close()
        await server.stop()
    }

    @Test(arguments: TestBackend.allCases)
    func followSaysWhenASessionItPrintedEnds(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let plain = try WirelogProcess(["sessions", "follow", "--db", fixture.store.argument, "--interval", "50ms"],
                                       environment: ["TZ": "UTC"])
        let json = try WirelogProcess(["sessions", "follow", "--db", fixture.store.argument, "--json", "--interval", "50ms"])
        try plain.waitForStderr(containing: "following")
        try json.waitForStderr(containing: "following")

        let server = try await TestServer.start(store: fixture.store)
        let connection = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        for (command, reply) in [("HELO\n", "100 OK\n"), ("QUIT\n", "200 BYE\n")] {
            try await connection.send(Array(command.utf8))
            #expect(try await connection.readReply() == Array(reply.utf8))
        }
        #expect(try await connection.readReply() == nil)
        await connection.close()

        try plain.waitForStdout(containing: "#4 ended")
        try json.waitForStdout(containing: "\"type\":\"session\"")
        plain.signal(SIGTERM)
        json.signal(SIGTERM)
        let lines = try plain.wait(timeout: 30).stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        #expect(lines[4].hasSuffix("←  200   200 BYE\\n"))
        let end = try #require(lines.last)
        #expect(end.hasPrefix("#4 ended after "))
        #expect(end.hasSuffix(": quit; 4 messages, 10 bytes from client, 15 from server"))

        let records = try json.wait(timeout: 30).jsonLines()
        #expect(records.map { $0["type"] as? String } == ["message", "message", "message", "message", "session"])
        let session = try #require(records.last)
        #expect(session["id"] as? Int == 4 && session["end_reason"] as? String == "quit" && session["message_count"] as? Int == 4)
        await server.stop()
    }

    @Test(arguments: TestBackend.allCases)
    func followWaitsForAStoreThatDoesNotExistYet(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory("wirelog-follow-wait")
        let store = try backend.freshStore(in: dir)
        let gaveUp = try WirelogProcess.run(["sessions", "follow", "--db", store.argument, "--timeout", "200ms", "--interval", "50ms"],
                                            timeout: 30)
        #expect(gaveUp.failure == nil)
        #expect(gaveUp.stderrText.contains("does not exist yet; waiting for a recorder to create it"))

        let follow = try WirelogProcess(["sessions", "follow", "--db", store.argument, "--max-messages", "2", "--interval", "50ms"])
        try follow.waitForStderr(containing: "does not exist yet")
        let server = try await TestServer.start(store: store)
        // Recorded only once follow has the store: it starts after the newest message.
        try follow.waitForStderr(containing: "following")
        let connection = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        try await connection.send(Array("HELO\n".utf8))
        #expect(try await connection.readReply() == Array("100 OK\n".utf8))

        let result = try follow.wait(timeout: 30)
        #expect(result.failure == nil)
        #expect(result.stdoutText.split(separator: "\n").count == 3)
        #expect(result.stderrText.components(separatedBy: "does not exist yet").count == 2, "said once: \(result.stderrText)")
        await connection.close()
        await server.stop()
    }

    @Test(arguments: TestBackend.allCases)
    func followStopsAtItsTimeoutWhenNothingIsRecorded(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let result = try WirelogProcess.run(["sessions", "follow", "--db", fixture.store.argument, "--timeout", "300ms", "--interval", "50ms"],
                                            timeout: 30)
        #expect(result.failure == nil)
        #expect(result.stdoutText.isEmpty)
    }

    @Test(arguments: TestBackend.allCases)
    func pruneRemovesOldEndedSessionsKeepsOpenOnesAndReportsSpace(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        // A session still being recorded: started before the cutoff but open.
        let server = try await TestServer.start(store: fixture.store)
        let connection = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        try await connection.send(Array("HELO\n".utf8))
        #expect(try await connection.readReply() == Array("100 OK\n".utf8))

        let nothing = try fixture.run(["prune", "--older-than", "30d"])
        #expect(nothing.failure == nil)
        #expect(nothing.stdoutText.hasPrefix("removed 0 sessions and 0 messages"))

        let cutoff = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600))
        let pruned = try fixture.run(["prune", "--before", cutoff])
        #expect(pruned.failure == nil)
        let lines = pruned.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("removed 3 sessions and \(fixture.messages.count) messages that started before "))
        #expect(lines[1] == "kept 1 session that started before then but is still open")
        #expect(lines[2].hasPrefix("freed ") && lines[2].contains("--vacuum"))

        let remaining = try await RecordedRows.sessions(fixture.store)
        #expect(remaining.map(\.id) == [4])
        #expect(try await RecordedRows.messages(fixture.store).allSatisfy { $0.sessionID == 4 })

        // Recording goes on after the prune.
        try await connection.send(Array("QUIT\n".utf8))
        #expect(try await connection.readReply() == Array("200 BYE\n".utf8))
        await connection.close()
        await server.stop()
        #expect(try await RecordedRows.messages(fixture.store).count == 4)

        let vacuumed = try fixture.run(["prune", "--before", cutoff, "--vacuum"])
        #expect(vacuumed.failure == nil)
        #expect(vacuumed.stdoutText.hasPrefix("removed 1 session and 4 messages"))
        #expect(vacuumed.stdoutText.contains("database size "))
        #expect(try await RecordedRows.sessions(fixture.store).isEmpty)
        if let path = fixture.store.sqlitePath { #expect(try RecordedRows.integrityCheck(path) == "ok") }
    }
}
