import Client
import Backends
import Foundation
import Replay
import Recording
import SQLiteBackend
import Testing
import TestSupport

/// Pacing, recording the replay, load replay, a third-party server, and what stops a replay from running.
@Suite struct ReplayLoadTests {
    @Test(arguments: TestBackend.allCases)
    func originalPaceKeepsTheRecordedGapsAndTheReplayIsRecorded(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir, name: "paced")
        // Recorded gaps of 300 ms and 200 ms between the client's messages.
        let id = try await recordSession(into: store, kind: .server, decoding: .lab, endReason: .quit, messages: [
            (.client, "HELO\n", 1_000), (.server, "100 OK\n", 1_200),
            (.client, "DATA x\n", 301_000), (.server, "300 DRCV\n", 301_300),
            (.client, "QUIT\n", 501_000), (.server, "200 BYE\n", 501_100),
        ])
        let server = try await TestServer.start(store: try backend.freshStore(in: dir, name: "target"))
        let run = try replay(["\(id)", "--to", "127.0.0.1:\(server.port)", "--pace", "original", "--record"], db: store)
        let halfSpeed = try replay(["\(id)", "--to", "127.0.0.1:\(server.port)", "--pace", "original", "--speed", "2", "--record"], db: store)
        await server.stop()
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(halfSpeed.status == 0, "stderr: \(halfSpeed.stderr)")

        let sessions = try await RecordedRows.sessions(store)
        let replays = sessions.filter { $0.kind == "replay" }
        #expect(replays.count == 2)
        #expect(replays.allSatisfy { $0.decoding == "lab" && $0.endReason == "server_closed" }, "decoded as the original was")
        let pairs = try #require(run.summary["replay_sessions"] as? [[String: Int]])
        #expect(pairs.map { $0["session"] } == [Int(id)])
        #expect(pairs.map { $0["replay_session"] } == [Int(replays[0].id)])
        let replayOf = try await store.withStore(.read) { try await $0.session(replays[0].id).replayOf }
        #expect(replayOf == id)

        // A replay session holds exactly the bytes that went each way.
        for (replay, divisor) in zip(replays, [Int64(1), 2]) {
            let messages = try await RecordedRows.messages(store, session: replay.id)
            let sent = messages.filter { $0.sender == "client" }
            #expect(sent.map(\.rawText) == ["HELO\n", "DATA x\n", "QUIT\n"])
            #expect(sent.map(\.verb) == ["HELO", "DATA", "QUIT"], "cut and read as lab commands")
            #expect(messages.filter { $0.sender == "server" }.flatMap(\.raw) == Array("100 OK\n300 DRCV\n200 BYE\n".utf8))
            // Sends are timed by the replay itself; a small tolerance for timer granularity.
            let gaps = zip(sent.dropFirst(), sent).map { $0.atMicros - $1.atMicros }
            let tolerance: Int64 = 5_000
            #expect(gaps[0] >= 300_000 / divisor - tolerance, "gaps \(gaps) at speed \(divisor)")
            #expect(gaps[1] >= 200_000 / divisor - tolerance, "gaps \(gaps) at speed \(divisor)")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func aHundredSessionsReplayTwentyAtATime(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir, name: "many")
        let recording = try await TestServer.start(store: store)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<10 {
                group.addTask {
                    for n in 0..<10 {
                        try await labConversation(port: recording.port, commands: ["HELO\n", "DATA w\(worker) n\(n)\n", "NOPE\n"])
                    }
                }
            }
            try await group.waitForAll()
        }
        await recording.stop()

        let targetStore = try backend.freshStore(in: dir, name: "target")
        let target = try await TestServer.start(store: targetStore)
        let run = try replay(["--kind", "server", "--to", "127.0.0.1:\(target.port)", "--concurrency", "20"], db: store, timeout: 120)
        await target.stop()
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.int("sessions") == 100)
        #expect(run.int("steps") == 500)
        #expect(run.int("matched") == 500)
        #expect(run.sessions.count == 100)
        #expect(Set(run.sessions.compactMap { $0["session"] as? Int }) == Set(1...100))
        #expect(try await RecordedRows.sessions(targetStore).count == 100)
    }

    @Test(arguments: TestBackend.allCases)
    func redisSessionsReplayAndAChangedValueIsAMismatch(_ backend: TestBackend) async throws {
        let redis = try await RedisServer.start()
        defer { redis.stop() }
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir, name: "redis")
        // As `wirelog proxy` records redis-cli: raw chunks of RESP.
        let full = try await recordSession(into: store, messages: [
            (.client, "*1\r\n$4\r\nPING\r\n", 1_000), (.server, "+PONG\r\n", 1_100),
            (.client, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n", 2_000), (.server, "+OK\r\n", 2_100),
            (.client, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 3_000), (.server, "$5\r\nhello\r\n", 3_100),
        ])
        let readOnly = try await recordSession(into: store, messages: [
            (.client, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 1_000), (.server, "$5\r\nhello\r\n", 1_100),
        ])
        let run = try replay(["\(full)", "\(readOnly)", "--to", "127.0.0.1:\(redis.port)"], db: store)
        #expect(run.status == 0, "stderr: \(run.stderr)\n\(run.lines)")
        #expect(run.int("matched") == 6)

        // Someone changes the value: the read-only session now sees something else.
        let connection = try await LabConnection.connect(host: "127.0.0.1", port: redis.port)
        try await connection.send(Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\njello\r\n".utf8))
        #expect(try await connection.readReply() == Array("+OK\r\n".utf8))
        await connection.close()
        let changed = try replay(["\(readOnly)", "--to", "127.0.0.1:\(redis.port)"], db: store)
        #expect(changed.status == 1)
        let mismatch = try #require(changed.steps.first)
        #expect(mismatch["result"] as? String == "mismatch")
        #expect(mismatch["actual"] as? String == #"$5\r\njello\r\n"#)
        #expect(mismatch["expected_offset"] as? Int == 4)
    }

    @Test(arguments: TestBackend.allCases)
    func aFloodingServerIsCutOffInsteadOfFillingMemory(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir, name: "flood")
        // The recorded reply is longer than the cap and matches what the flood sends, so the
        // replay keeps reading until the cap, whatever the timing of the chunks.
        let id = try await recordSession(into: store, messages: [
            (.client, "GET\n", 1_000), (.server, String(repeating: "x", count: 2_000), 1_100),
        ])
        let flood = try await ScriptedServer.start { _ in String(repeating: "x", count: 100_000) }
        var options = ReplayOptions(host: "127.0.0.1", port: flood.port)
        options.maxBufferedBytes = 1_024
        let replayer = try Replayer(options: options, store: try await store.openStore(.read))
        let report = await replayer.replay(id)
        await flood.stop()
        let step = try #require(report.steps.first)
        #expect(step.outcome == .mismatch)
        #expect(step.actual.count == 1_024)
        #expect(step.reason?.hasPrefix("the server sent more than 1024 bytes the replay did not ask for") == true, "\(step.reason ?? "")")
        #expect(report.steps.last?.outcome == .skipped)
    }

    @Test(arguments: TestBackend.allCases)
    func whatCannotRunExitsWithTwoAndSaysWhy(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir, name: "few")
        let id = try await recordSession(into: store, messages: [(.client, "PING\r\n", 1_000), (.server, "+PONG\r\n", 1_100)])
        let port = try await unusedLoopbackPort()

        let missing = try WirelogProcess.run(["replay", "\(id)", "42", "--to", "127.0.0.1:\(port)", "--db", store.argument])
        #expect(missing.status == 2)
        #expect(missing.stderrText == "wirelog: no session 42 in the store\n")

        let refused = try replay(["\(id)", "--to", "127.0.0.1:\(port)"], db: store)
        #expect(refused.status == 2)
        #expect(refused.sessions.first?["error"] as? String == "cannot connect to 127.0.0.1:\(port): connection refused")

        // A store that is not there: a missing file, or a database the server does not have.
        var absent = dir.file("absent.sqlite")
        if case .postgres(var url) = store {
            url.database = "absent_" + url.database
            absent = StoreLocation.postgres(url).argument
        }
        let noDatabase = try WirelogProcess.run(["replay", "1", "--to", "127.0.0.1:\(port)", "--db", absent])
        #expect(noDatabase.status == 2)
        #expect(noDatabase.stderrText.contains("absent"), "\(noDatabase.stderrText)")

        let nothingSelected = try WirelogProcess.run(["replay", "--to", "127.0.0.1:\(port)", "--db", store.argument])
        #expect(nothingSelected.status != 0)
        #expect(nothingSelected.stderrText.contains("name the sessions to replay"))

        let badPattern = try WirelogProcess.run(["replay", "\(id)", "--to", "127.0.0.1:\(port)", "--ignore", "(", "--db", store.argument])
        #expect(badPattern.status != 0)
        #expect(badPattern.stderrText.contains("--ignore (: not a valid regular expression"))
    }
}

/// redis-server from Debian on a free port, without persistence, stopped by PID.
final class RedisServer: Sendable {
    let port: Int
    private let process: Process

    private init(port: Int, process: Process) {
        self.port = port
        self.process = process
    }

    static func start() async throws -> RedisServer {
        let binary = "/usr/bin/redis-server"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "redis-server is missing: apt-get install -y redis-server")
        let port = try await unusedLoopbackPort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let server = RedisServer(port: port, process: process)
        // Ready when it accepts a connection (bounded).
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let connection = try? await LabConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(1)) {
                await connection.close()
                return server
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        server.stop()
        throw RedisError.notReady(port)
    }

    /// SIGKILL: nothing to save, and a child of the test runner inherits a signal mask that blocks SIGTERM.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    enum RedisError: Error { case notReady(Int) }
}
