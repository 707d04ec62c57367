import Backends
import Foundation
import Logging
import Replay
import Recording
import SQLiteBackend
import Testing
import TestSupport

/// The built `wirelog replay` against real servers over real sockets.
@Suite struct ReplayTests {
    /// Records the lab sessions the tests replay: one ended by QUIT, one by a half-close.
    private func recordLabSessions(_ backend: TestBackend, _ dir: TemporaryDirectory) async throws -> StoreLocation {
        let store = try backend.freshStore(in: dir, name: "recorded")
        let server = try await TestServer.start(store: store)
        try await labConversation(port: server.port, commands: ["HELO\n", "DATA hello\n", "BOGUS\n"])
        try await labConversation(port: server.port, commands: ["HELO there\n", "DATA\nsecond line\n"], quit: false)
        await server.stop()
        return store
    }

    @Test(arguments: TestBackend.allCases)
    func aRecordedSessionReplaysAgainstAFreshServerWithoutMismatches(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try await recordLabSessions(backend, dir)
        let freshStore = try backend.freshStore(in: dir, name: "fresh")
        let fresh = try await TestServer.start(store: freshStore)
        let run = try replay(["1", "2", "--to", "127.0.0.1:\(fresh.port)"], db: store)
        await fresh.stop()
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.int("sessions") == 2)
        #expect(run.int("mismatches") == 0)
        // Four commands and the close; two commands (DATA and its payload line are one) and the close.
        #expect(run.int("steps") == 8)
        #expect(run.int("matched") == 8)
        #expect(run.summary["replayed_latency_us"] != nil)
        // The fresh server saw the same client bytes, ended the same way.
        let original = try await RecordedRows.messages(store)
        let replayed = try await RecordedRows.messages(freshStore)
        #expect(replayed.map(\.raw) == original.map(\.raw))
        #expect(try await RecordedRows.sessions(freshStore).map(\.endReason) == ["quit", "client_closed"])
    }

    @Test(arguments: TestBackend.allCases)
    func aServerThatAnswersDifferentlyGivesExactlyTheExpectedMismatches(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try await recordLabSessions(backend, dir)
        let crlf = try await TestServer.start(store: try backend.freshStore(in: dir, name: "crlf")) { $0.lineEnding = .crlf }
        let run = try replay(["1", "2", "--to", "127.0.0.1:\(crlf.port)"], db: store)
        await crlf.stop()
        #expect(run.status == 1, "stderr: \(run.stderr)")
        // HELO, DATA and QUIT now end in CRLF; the 400 reply (step 3) always did.
        #expect(run.mismatchedSteps(session: 1) == [1, 2, 4])
        #expect(run.mismatchedSteps(session: 2) == [1, 2])
        let first = try #require(run.steps.first { $0["session"] as? Int == 1 && $0["step"] as? Int == 1 })
        #expect(first["expected"] as? String == #"100 OK\n"#)
        #expect(first["actual"] as? String == #"100 OK\r\n"#)
        #expect(first["expected_offset"] as? Int == 6)
        #expect(run.int("mismatches") == 5)
        #expect(run.int("sessions_with_differences") == 2)

        // The text report says the same for people.
        // A port reserved and released: nothing listens there (port 1 need not be closed).
        let closed = try closedLoopbackPort()
        let text = try WirelogProcess.run(["replay", "1", "--to", "127.0.0.1:\(closed)", "--db", store.argument])
        #expect(text.status == 2)
        #expect(text.stdoutText.contains("cannot connect to 127.0.0.1:\(closed)"))
    }

    /// A secret not as long as the recorded one, with no length in front of it to put right
    /// (lab-data: a line): a reply that does not come says what that may mean.
    @Test(arguments: TestBackend.allCases)
    func aReplyMissingAfterASecretOfAnotherLengthSaysWhatThatMayMean(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir)
        let serve = try WirelogProcess(["serve", "--listen", "127.0.0.1:0", "--db", store.argument, "--redact-preset", "lab-data"])
        let port = try serve.listeningPort()
        #expect(try WirelogProcess.run(["client", "127.0.0.1:\(port)"], input: Array("DATA the-payload\n".utf8)).failure == nil)
        serve.signal(SIGTERM)
        #expect(try serve.wait().failure == nil)
        let silent = try TestListener()
        let run = try WirelogProcess.run(["replay", "1", "--db", store.argument, "--to", "127.0.0.1:\(silent.port)", "--timeout", "1s",
                                          "--secret", "lab-data=xy"])
        #expect(run.status == 1)
        #expect(run.stdoutText.contains("no reply within 1s: received 0 of 9 recorded bytes (the --secret for lab-data is not as long as the recorded one, and no length in front of it could be put right"),
                "\(run.stdoutText)")
    }

    @Test(arguments: TestBackend.allCases)
    func aSilentServerFailsWithinTheTimeout(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try await recordLabSessions(backend, dir)
        let silent = try await ScriptedServer.start { _ in nil }
        // The process must end on its own (WirelogProcess kills it and throws after 30 s).
        let run = try replay(["1", "--to", "127.0.0.1:\(silent.port)", "--timeout", "300ms"], db: store, timeout: 30)
        await silent.stop()
        #expect(run.status == 1, "stderr: \(run.stderr)")
        let steps = run.steps
        #expect(steps.map { $0["result"] as? String } == ["mismatch", "skipped", "skipped", "skipped", "skipped"])
        #expect(steps.first?["reason"] as? String == "no reply within 300ms: received 0 of 7 recorded bytes")
        // One timeout, not one per step: the rest of the conversation is skipped.
        #expect(run.int("skipped") == 4)
    }

    @Test(arguments: TestBackend.allCases)
    func aServerThatClosesEarlyIsAFailureWithTheReason(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try await recordLabSessions(backend, dir)
        let closesAtOnce = try await ScriptedServer.start(closeAfterAnswers: 0) { _ in "never" }
        let run = try replay(["1", "--to", "127.0.0.1:\(closesAtOnce.port)", "--timeout", "5s"], db: store, timeout: 30)
        await closesAtOnce.stop()
        #expect(run.status == 1, "stderr: \(run.stderr)")
        // Depending on timing the close is seen before sending, after it, or as a reset of what was sent.
        let reason = try #require(run.steps.first?["reason"] as? String)
        #expect(["the server closed the connection after 0 of 7 recorded bytes",
                 "the server reset the connection after 0 of 7 recorded bytes",
                 "the server closed the connection before this message could be sent"].contains(reason), "reason: \(reason)")

        // Answers the first command, then hangs up in the middle of the conversation.
        let closesAfterOne = try await ScriptedServer.start(closeAfterAnswers: 1) { _ in "100 OK\n" }
        let second = try replay(["1", "--to", "127.0.0.1:\(closesAfterOne.port)"], db: store, timeout: 30)
        await closesAfterOne.stop()
        #expect(second.status == 1)
        #expect(second.steps.first?["result"] as? String == "match")
        let failure = try #require(second.steps.first { $0["result"] as? String == "mismatch" })
        #expect(failure["step"] as? Int == 2)
        let why = try #require(failure["reason"] as? String)
        #expect(why.hasPrefix("the server closed the connection") || why.hasPrefix("the server reset the connection"), "reason: \(why)")
    }

    @Test(arguments: TestBackend.allCases)
    func ignoreTurnsAVolatileDifferenceIntoAMatch(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir, name: "volatile")
        // A server-first protocol: a greeting with a time in it, replies with a queue id.
        let id = try await recordSession(into: store, endReason: .serverClosed, messages: [
            (.server, "220 ready at 1700000000\r\n", 100),
            (.client, "SEND hello\r\n", 1_000), (.server, "250 queued as 4711\r\n", 1_200),
            (.client, "QUIT\r\n", 2_000), (.server, "221 bye\r\n", 2_100),
        ])
        let server = try await ScriptedServer.start(greeting: "220 ready at \(Int(Date().timeIntervalSince1970))\r\n",
                                                    closeAfterAnswers: 2) { line in
            line.hasPrefix("QUIT") ? "221 bye\r\n" : "250 queued as \(Int.random(in: 100_000...999_999))\r\n"
        }
        let strict = try replay(["\(id)", "--to", "127.0.0.1:\(server.port)"], db: store)
        #expect(strict.status == 1)
        #expect(strict.mismatchedSteps(session: id) == [1, 2])
        let masked = try replay(["\(id)", "--to", "127.0.0.1:\(server.port)",
                                 "--ignore", #"at \d+"#, "--ignore", #"queued as \d+"#], db: store)
        #expect(masked.status == 0, "stderr: \(masked.stderr)\n\(masked.lines)")
        #expect(masked.steps.map { $0["kind"] as? String } == ["greeting", "send", "send", "close"])
        await server.stop()
    }

    /// A report shows the server's actual reply as the store would hold it: a secret the store's
    /// rules hide in replies is a token there too, in the text and the JSON output.
    @Test(arguments: TestBackend.allCases)
    func aReportShowsRepliesRedactedWithTheStoresRules(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir)
        var settings = RecorderSettings()
        settings.redactionRules = [try RedactionRule(name: "token", pattern: #"token=(\w+)"#, direction: .server)]
        let recorder = try await store.openRecorder(settings, logger: .init(label: "test.replay") { _ in SwiftLogNoOpLogHandler() })
        let tape = SessionTape(sink: recorder, info: SessionInfo(kind: .proxy, decoding: .raw, clientHost: "127.0.0.1", clientPort: 40_000,
                                                                serverHost: "127.0.0.1", serverPort: 6379, startedMicros: WallClock.nowMicros()))
        for (sender, text) in [(Sender.client, "LOGIN\n"), (.server, "token=recorded-secret ok\n")] {
            tape.countWireBytes(text.utf8.count, from: sender)
            tape.record(sender, Array(text.utf8))
        }
        tape.end(.clientClosed)
        await recorder.shutdown()
        let id = try #require(try await RecordedRows.sessions(store).first?.id)

        let server = try await ScriptedServer.start { _ in "token=live-secret-value differs\n" }
        let run = try replay([String(id), "--to", "127.0.0.1:\(server.port)"], db: store, timeout: 30)
        let text = try WirelogProcess.run(["replay", String(id), "--to", "127.0.0.1:\(server.port)", "--db", store.argument])
        await server.stop()
        #expect(run.status == 1 && text.status == 1)
        let actual = try #require(run.steps.first?["actual"] as? String)
        #expect(actual.hasPrefix("token=REDACTED-") && actual.hasSuffix(" differs\\n"), "\(actual)")
        #expect(text.stdoutText.contains("actual    token=REDACTED-"), "\(text.stdoutText)")
        for output in [text.stdoutText, text.stderrText, run.stderr] + run.lines.map { "\($0)" } {
            #expect(!output.contains("live-secret") && !output.contains("recorded-secret"))
        }
    }
}
