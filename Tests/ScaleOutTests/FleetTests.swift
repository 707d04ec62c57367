import Client
import Backends
import Foundation
import Recording
import Testing
import TestSupport

/// Several recorders (real `wirelog` processes) sharing one PostgreSQL, as docs/SCALE-OUT.md
/// describes: under load, through crashes and a restart of PostgreSQL itself.
@Suite(.serialized) struct FleetTests {
    /// Every DATA payload the store holds, with how many times it is there.
    private func storedPayloadCounts(_ store: StoreLocation) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for message in try await RecordedRows.messages(store) where message.sender == "client" && message.verb == "DATA" {
            counts[String(decoding: message.payload ?? [], as: UTF8.self), default: 0] += 1
        }
        return counts
    }

    private func serve(_ url: String, name: String) throws -> (WirelogProcess, Int) {
        let process = try WirelogProcess(["serve", "--listen", "127.0.0.1:0", "--db", url, "--recorder-name", name])
        return (process, try process.listeningPort())
    }

    @Test func threeRecordersRecordEveryAcknowledgedCommandExactlyOnce() async throws {
        let url = try TestPostgres.freshDatabaseURL()
        let store = try StoreLocation(url)
        let (serveA, portA) = try serve(url, name: "serve-a")
        let (serveB, portB) = try serve(url, name: "serve-b")
        // The proxy forwards to a lab server that does not record, and records both directions itself.
        let upstream = try await TestServer.start(store: .sqlite(path: TemporaryDirectory().file("unused.sqlite"))) {
            $0.recording = false
        }
        let proxy = try WirelogProcess(["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(upstream.port)",
                                        "--decode", "lab", "--db", url, "--recorder-name", "proxy-c"])
        let proxyPort = try proxy.listeningPort()

        let acknowledged = AcknowledgedPayloads()
        async let a: Void = LabLoad.run(port: portA, clients: 8, commands: 150, tag: "a", acknowledged: acknowledged)
        async let b: Void = LabLoad.run(port: portB, clients: 8, commands: 150, tag: "b", acknowledged: acknowledged)
        async let c: Void = LabLoad.run(port: proxyPort, clients: 8, commands: 150, tag: "c", acknowledged: acknowledged)
        _ = await (a, b, c)
        for process in [serveA, serveB, proxy] {
            process.signal(SIGTERM)
            #expect(try process.wait(timeout: 60).failure == nil)
        }
        await upstream.stop()

        #expect(acknowledged.all.count == 3 * 8 * 150)
        let stored = try await storedPayloadCounts(store)
        let missing = acknowledged.all.filter { stored[$0] == nil }
        let twice = stored.filter { $0.value > 1 }
        #expect(missing.isEmpty, "acknowledged but not stored: \(missing.prefix(5))")
        #expect(twice.isEmpty, "stored more than once: \(twice.prefix(5))")

        let sessions = try await RecordedRows.sessions(store)
        #expect(Set(sessions.map(\.id)).count == sessions.count)
        let listed = try WirelogProcess.run(["sessions", "list", "--db", url, "--limit", "1000", "--json"])
        #expect(listed.failure == nil)
        let rows = try #require(JSONSerialization.jsonObject(with: Data(listed.stdout)) as? [[String: Any]])
        #expect(Set(rows.compactMap { $0["recorder"] as? String }) == ["serve-a", "serve-b", "proxy-c"])
        let table = try WirelogProcess.run(["sessions", "list", "--db", url, "--recorder", "proxy-c", "--limit", "1"])
        #expect(table.stdoutText.contains("proxy-c") && !table.stdoutText.contains("serve-a"))
    }

    @Test(arguments: TestBackend.allCases)
    func killNineLosesNothingAcknowledgedAndTheNextRecorderClosesWhatWasOpen(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir)
        let url = store.argument
        let acknowledged = AcknowledgedPayloads()
        for round in 0..<5 {
            let (serve, port) = try serve(url, name: "crashy")
            let killAt = acknowledged.all.count + Int.random(in: 50...400)
            await LabLoad.run(port: port, clients: 8, tag: "k\(round)", acknowledged: acknowledged, onAck: { count in
                if count >= killAt { serve.signal(SIGKILL) }
            })
            _ = try? serve.wait(timeout: 30)
            #expect(serve.process.terminationReason == .uncaughtSignal)
        }
        let lost = acknowledged.all.subtracting(try await storedPayloadCounts(store).keys)
        #expect(lost.isEmpty, "lost: \(lost.prefix(5))")

        // The next recorder of the same name closes what the dead one left open, with true counts.
        let (last, _) = try serve(url, name: "crashy")
        last.signal(SIGTERM)
        #expect(try last.wait(timeout: 30).failure == nil)
        let sessions = try await RecordedRows.sessions(store)
        #expect(sessions.allSatisfy { $0.endReason != nil }, "still open: \(sessions.filter { $0.endReason == nil }.map(\.id))")
        let interrupted = sessions.filter { $0.endReason == "interrupted" }
        #expect(!interrupted.isEmpty)
        let messages = try await RecordedRows.messages(store)
        for session in interrupted {
            let own = messages.filter { $0.sessionID == session.id }
            #expect(session.messageCount == Int64(own.count))
            #expect(session.bytesFromClient == Int64(own.filter { $0.sender == "client" }.reduce(0) { $0 + $1.raw.count }))
            #expect(session.endedMicros == own.map(\.atMicros).max() ?? session.startedMicros)
        }
    }

    /// A recorder leaves alone the open sessions of a live recorder that has its name (two
    /// `serve`s started with one `--recorder-name` by mistake).
    @Test(arguments: TestBackend.allCases)
    func aLiveRecorderOfTheSameNameIsNotMistakenForADeadOne(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir)
        let (first, firstPort) = try serve(store.argument, name: "twin")
        let client = try await LabConnection.connect(host: "127.0.0.1", port: firstPort)
        try await client.send(Array("HELO\n".utf8))
        #expect(try await client.readReply() == Array("100 OK\n".utf8))

        let (second, _) = try serve(store.argument, name: "twin")
        // Still recording: the first one's session was not closed under it.
        try await client.send(Array("DATA still here\n".utf8))
        #expect(try await client.readReply() == Array("300 DRCV\n".utf8))
        #expect(try await RecordedRows.sessions(store).map(\.endReason) == [nil])
        await client.close()
        for process in [first, second] {
            process.signal(SIGTERM)
            #expect(try process.wait(timeout: 60).failure == nil)
        }
        let ended = try await RecordedRows.sessions(store).map(\.endReason)
        #expect(ended.count == 1 && ended[0] != nil && ended[0] != "interrupted", "\(ended)")
    }

    @Test func aRestartOfPostgresUnderLoadAcknowledgesNothingUnstoredAndRecordingResumes() async throws {
        let url = try TestPostgres.freshDatabaseURL()
        let store = try StoreLocation(url)
        let (serve, port) = try serve(url, name: "steady")
        let acknowledged = AcknowledgedPayloads()
        let afterRestart = RestartCounter()
        // Clients reconnect after a 451 or a hang-up and go on until 500 commands were acknowledged
        // after the restart: recording resumed without restarting serve.
        async let load: Void = LabLoad.run(
            port: port, clients: 8, commands: 1_000_000, tag: "r", acknowledged: acknowledged, reconnect: true,
            until: { afterRestart.count >= 500 }) { _ in afterRestart.acknowledged() }
        let deadline = Date().addingTimeInterval(60)
        while acknowledged.all.count < 300 && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        try TestPostgres.restart()
        afterRestart.start()
        await load
        serve.signal(SIGTERM)
        let result = try serve.wait(timeout: 60)
        #expect(result.failure == nil)
        #expect(afterRestart.count >= 500)
        let lost = acknowledged.all.subtracting(try await storedPayloadCounts(store).keys)
        #expect(lost.isEmpty, "lost: \(lost.prefix(5))")
        // The outage is one line, not one per failed commit.
        let outageLines = result.stderrText.split(separator: "\n").filter { $0.contains("nothing is acknowledged until") }
        #expect(outageLines.count <= 1, "\(result.stderrText)")
    }

    /// The restart's worst moment made to happen every time: PostgreSQL has run a batch's
    /// statement and answered it, and the connection goes before the batch commits (the server
    /// rolls it back). The command in it must not be acknowledged, and recording goes on.
    @Test func aConnectionLostBeforeTheCommitAcknowledgesNothingOfTheBatch() async throws {
        let url = try TestPostgres.freshDatabaseURL()
        let store = try StoreLocation(url)
        let cutter = try await PostgresCutter.start(before: try TestPostgres.serverAddress(), cutting: "wirelog_commit",
                                                    holding: "in the lost batch")
        let (serve, port) = try serve(try cutter.relayedURL(url), name: "cut")

        let first = try await LabConnection.connect(host: "127.0.0.1", port: port)
        try await first.send(Array("DATA in the lost batch\n".utf8))
        let firstReply = try await first.readReply().map { String(decoding: $0, as: UTF8.self) } ?? "(hung up)"
        #expect(cutter.hasCut)
        #expect(firstReply.hasPrefix("451 "), "\(firstReply)")
        await first.close()

        // The recorder reconnects (its first retry is at once): the next client is recorded.
        let second = try await LabConnection.connect(host: "127.0.0.1", port: port)
        try await second.send(Array("DATA after the cut\n".utf8))
        #expect(try await second.readReply() == Array("300 DRCV\n".utf8))
        await second.close()
        serve.signal(SIGTERM)
        #expect(try serve.wait(timeout: 60).failure == nil)
        await cutter.stop()
        let stored = try await storedPayloadCounts(store)
        #expect(stored == ["after the cut": 1], "\(stored)")
    }

    @Test func wrongPasswordClosedPortAndNewerSchemaAreOneLineAndTouchNothing() async throws {
        let wrong = try TestPostgres.passwordURL(password: "wrong-password")
        for command in [["sessions", "list"], ["serve", "--listen", "127.0.0.1:0"]] {
            let result = try WirelogProcess.run(command + ["--db", wrong])
            #expect(result.status == 2)
            #expect(result.stderrText.split(separator: "\n").count == 1, "\(result.stderrText)")
            #expect(result.stderrText.contains("refused user wirelog_pw"), "\(result.stderrText)")
            #expect(!result.stderrText.contains("wrong-password"))
        }
        let right = try TestPostgres.passwordURL(password: "right-password")
        let created = try WirelogProcess.run(["sessions", "copy", "--from", TemporaryDirectory().file("none.sqlite"), "--to", right])
        #expect(created.status == 2, "a missing source is refused before the destination is made")

        let port = try await unusedLoopbackPort()
        let down = try WirelogProcess.run(["sessions", "list", "--db", "postgres://wirelog@127.0.0.1:\(port)/wirelog"])
        #expect(down.status == 2)
        #expect(down.stderrText == "wirelog: cannot connect to PostgreSQL at postgres://wirelog@127.0.0.1:\(port)/wirelog: connection refused (is PostgreSQL running and listening there? check the host and port)\n")

        let newer = try TestPostgres.freshDatabaseURL()
        let serve = try WirelogProcess(["serve", "--listen", "127.0.0.1:0", "--db", newer])
        _ = try serve.listeningPort()
        serve.signal(SIGTERM)
        _ = try serve.wait(timeout: 30)
        _ = try TestPostgres.psql(newer, "INSERT INTO wirelog_migrations VALUES (99, 'later', 'x', 0)")
        for command in [["sessions", "list"], ["serve", "--listen", "127.0.0.1:0"]] {
            let result = try WirelogProcess.run(command + ["--db", newer])
            #expect(result.status == 2)
            #expect(result.stderrText.contains("has schema version 99, newer than this wirelog knows"), "\(result.stderrText)")
        }

        let foreign = try TestPostgres.freshDatabaseURL()
        _ = try TestPostgres.psql(foreign, "CREATE TABLE invoices (id int)")
        let refused = try WirelogProcess.run(["serve", "--listen", "127.0.0.1:0", "--db", foreign])
        #expect(refused.status == 2)
        #expect(refused.stderrText.contains("holds other tables but no wirelog schema"), "\(refused.stderrText)")
        #expect(try TestPostgres.psql(foreign, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "1")
    }

    @Test func copyingBetweenStoresIsIdempotentAndKeepsReplayLinks() async throws {
        let dir = TemporaryDirectory()
        let laptop = StoreLocation.sqlite(path: dir.file("laptop.sqlite"))
        let info = SessionInfo(kind: .server, decoding: .lab, recorder: "laptop", clientHost: "127.0.0.1", clientPort: 5000,
                               serverHost: "127.0.0.1", serverPort: 7070, startedMicros: 1_700_000_000_000_000)
        let messages = [
            RecordedMessage(seq: 1, atMicros: 1_700_000_000_000_100, sender: .client, raw: Array("DATA \u{0}\u{ff}x\n".utf8),
                            verb: "DATA", payloadRange: 5..<9),
            RecordedMessage(seq: 2, atMicros: 1_700_000_000_000_200, sender: .server, raw: Array("300 DRCV\n".utf8), replyCode: 300),
        ]
        let end = SessionEnd(atMicros: 1_700_000_000_000_300, reason: .quit, bytesFromClient: 11, bytesFromServer: 9, messageCount: 2)
        let originalID = try #require(try await laptop.withStore(.create) {
            try await $0.write([(CompleteSession(info: info, end: end, messages: messages), nil)])
        }.first ?? nil)
        var replayInfo = info
        replayInfo.kind = .replay
        replayInfo.startedMicros += 1_000_000
        replayInfo.replayOf = originalID
        _ = try await laptop.withStore(.create) { try await $0.write([(CompleteSession(info: replayInfo, end: end, messages: messages), nil)]) }

        let shared = try TestPostgres.freshDatabaseURL()
        let first = try WirelogProcess.run(["sessions", "copy", "--from", dir.file("laptop.sqlite"), "--to", shared])
        #expect(first.failure == nil)
        #expect(first.stdoutText.hasPrefix("copied 2 sessions (4 messages)"), "\(first.stdoutText)")
        let again = try WirelogProcess.run(["sessions", "copy", "--from", dir.file("laptop.sqlite"), "--to", shared])
        #expect(again.stdoutText.hasPrefix("nothing new to copy"), "\(again.stdoutText)")

        let copied = try await StoreLocation(shared).withStore(.read) { store in
            try await store.list(SessionFilter(), limit: 10).sorted { $0.id < $1.id }
        }
        #expect(copied.count == 2)
        #expect(copied[1].replayOf == copied[0].id)
        #expect(copied.allSatisfy { $0.recorder == "laptop" && $0.endReason == "quit" })
        let back = dir.file("back.sqlite")
        #expect(try WirelogProcess.run(["sessions", "copy", "--from", shared, "--to", back]).failure == nil)
        let original = try await RecordedRows.messages(laptop)
        let roundTrip = try await RecordedRows.messages(.sqlite(path: back))
        #expect(roundTrip.map(\.raw) == original.map(\.raw))
        #expect(roundTrip.map(\.payload) == original.map(\.payload))
        #expect(roundTrip.map(\.atMicros) == original.map(\.atMicros))
    }

    @Test func followOnPostgresPrintsWhatEveryRecorderCommits() async throws {
        let url = try TestPostgres.freshDatabaseURL()
        let (serveA, portA) = try serve(url, name: "fa")
        let (serveB, portB) = try serve(url, name: "fb")
        let follow = try WirelogProcess(["sessions", "follow", "--db", url, "--json", "--verb", "DATA", "--max-messages", "200"])
        try follow.waitForStderr(containing: "following")
        let acknowledged = AcknowledgedPayloads()
        async let a: Void = LabLoad.run(port: portA, clients: 4, commands: 25, tag: "fa", acknowledged: acknowledged)
        async let b: Void = LabLoad.run(port: portB, clients: 4, commands: 25, tag: "fb", acknowledged: acknowledged)
        _ = await (a, b)
        let result = try follow.wait(timeout: 30)
        #expect(result.failure == nil)
        let followed = result.stdoutText.split(separator: "\n").compactMap { line -> String? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let payload = (object["payload"] as? String).flatMap({ Data(base64Encoded: $0) }) else { return nil }
            return String(decoding: payload, as: UTF8.self)
        }
        #expect(Set(followed) == acknowledged.all, "followed \(followed.count) of \(acknowledged.all.count)")
        for process in [serveA, serveB] {
            process.signal(SIGTERM)
            _ = try process.wait(timeout: 30)
        }
    }
}

/// Acknowledgements counted from the moment PostgreSQL has been restarted.
final class RestartCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var started = false
    private var acknowledgedSince = 0

    func start() { lock.withLock { started = true } }
    func acknowledged() { lock.withLock { if started { acknowledgedSince += 1 } } }
    var count: Int { lock.withLock { acknowledgedSince } }
}
