import Backends
import Client
import Foundation
import Testing
import TestSupport

/// Promises 2–4 of docs/RELIABILITY.md, against the built binary.
@Suite struct CrashAndLoadTests {
    private func storedPayloads(_ store: StoreLocation) async throws -> Set<String> {
        Set(try await RecordedRows.messages(store).compactMap { $0.payload.map { String(decoding: $0, as: UTF8.self) } })
    }

    @Test(arguments: TestBackend.allCases)
    func twentyKillsAtRandomMomentsLoseNothingAcknowledged(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir)
        let acknowledged = AcknowledgedPayloads()
        var kills = 0
        for round in 0..<20 {
            let serve = try WirelogProcess(["serve", "--listen", "127.0.0.1:0", "--db", store.argument])
            let port = try serve.listeningPort()
            let killAt = acknowledged.all.count + Int.random(in: 1...400)
            await LabLoad.run(port: port, clients: 8, tag: "r\(round)", acknowledged: acknowledged, onAck: { count in
                if count >= killAt { serve.signal(SIGKILL) }
            })
            _ = try? serve.wait(timeout: 30)
            #expect(serve.process.terminationReason == .uncaughtSignal)
            kills += 1
            if let path = store.sqlitePath { #expect(try RecordedRows.integrityCheck(path) == "ok") }
        }
        let lost = acknowledged.all.subtracting(try await storedPayloads(store))
        #expect(lost.isEmpty, "lost: \(lost.prefix(5))")
        print("kill -9 (\(backend)): \(kills) kills survived, \(acknowledged.all.count) acknowledged messages checked, \(lost.count) lost")
    }

    @Test(arguments: TestBackend.allCases)
    func sigtermUnderLoadLosesNothingAndEndsEverySessionWithShutdown(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir)
        let serve = try WirelogProcess(["serve", "--listen", "127.0.0.1:0", "--db", store.argument])
        let port = try serve.listeningPort()
        let acknowledged = AcknowledgedPayloads()
        await LabLoad.run(port: port, clients: 20, tag: "t", acknowledged: acknowledged, onAck: { count in
            if count == 3_000 { serve.signal(SIGTERM) }
        })
        let result = try serve.wait(timeout: 30)
        #expect(result.failure == nil)
        let sessions = try await RecordedRows.sessions(store)
        #expect(sessions.count == 20)
        #expect(sessions.allSatisfy { $0.endReason == "shutdown" }, "\(sessions.map(\.endReason))")
        let messages = try await RecordedRows.messages(store)
        // Every command received was answered and recorded: each has its reply row.
        #expect(messages.filter { $0.sender == "client" }.count == messages.filter { $0.sender == "server" }.count)
        let lost = acknowledged.all.subtracting(try await storedPayloads(store))
        #expect(lost.isEmpty)
        print("SIGTERM under load (\(backend)): \(acknowledged.all.count) acknowledged, \(messages.count) messages checked, \(lost.count) lost")
    }

    /// A thousand clients at once, a hundred commands each; on PostgreSQL twenty-five each (the
    /// same thousand connections and group commits, a quarter of the run: the full count took
    /// about twice SQLite's time on two shared cores, the longest test of the suite).
    @Test(arguments: TestBackend.allCases)
    func aThousandConcurrentClientsAreAllRecordedExactlyOnce(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir)
        let serve = try WirelogProcess(["serve", "--listen", "127.0.0.1:0", "--db", store.argument])
        let port = try serve.listeningPort()
        let started = Date()
        let clients = 1_000
        let commands = backend == .postgres ? 25 : 100
        let wrong = AcknowledgedPayloads()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<clients {
                group.addTask {
                    let connection = try await LabConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(30))
                    for n in 0..<commands {
                        try await connection.send(Array("DATA \(client)-\(n)\n".utf8))
                        if try await connection.readReply(timeout: .seconds(60)) != Array("300 DRCV\n".utf8) {
                            wrong.add("\(client)-\(n)")
                        }
                    }
                    try await connection.send(Array("QUIT\n".utf8))
                    _ = try await connection.readReply(timeout: .seconds(60))
                    await connection.close()
                }
            }
            try await group.waitForAll()
        }
        let loaded = Date().timeIntervalSince(started)
        serve.signal(SIGTERM)
        #expect(try serve.wait(timeout: 60).failure == nil)
        #expect(wrong.all.isEmpty)
        let messages = try await RecordedRows.messages(store)
        let payloads = messages.compactMap { $0.payload.map { String(decoding: $0, as: UTF8.self) } }
        #expect(payloads.count == clients * commands)
        #expect(Set(payloads).count == clients * commands)  // each exactly once
        #expect(try await RecordedRows.sessions(store).allSatisfy { $0.endReason == "quit" })
        print("load (\(backend)): \(clients) clients x \(commands) commands in \(Int(loaded)) s, \(messages.count) messages checked, 0 lost")
    }
}
