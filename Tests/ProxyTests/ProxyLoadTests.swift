import Client
import Foundation
import Testing
import TestSupport

/// Promise 4 of docs/RELIABILITY.md, proxy side: 200 concurrent connections through the proxy,
/// every reply correct, every message recorded exactly once on both sides of it.
@Suite struct ProxyLoadTests {
    @Test(arguments: TestBackend.allCases)
    func twoHundredConcurrentConnectionsAreForwardedAndRecordedExactlyOnce(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let server = try await TestServer.start(store: try backend.freshStore(in: directory, name: "serve"))
        let proxy = try await ProxyHarness.start(upstreamPort: server.port, store: try backend.freshStore(in: directory, name: "proxy")) {
            $0.decoding = .lab
        }
        let clients = 200
        let commands = 20
        let wrong = AcknowledgedPayloads()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<clients {
                group.addTask {
                    let connection = try await LabConnection.connect(host: "127.0.0.1", port: proxy.port, timeout: .seconds(30))
                    for n in 0..<commands {
                        try await connection.send(Array("DATA \(client)-\(n)\n".utf8))
                        if try await connection.readReply(timeout: .seconds(30)) != Array("300 DRCV\n".utf8) {
                            wrong.add("\(client)-\(n)")
                        }
                    }
                    try await connection.send(Array("QUIT\n".utf8))
                    if try await connection.readReply(timeout: .seconds(30)) != Array("200 BYE\n".utf8) {
                        wrong.add("\(client) quit")
                    }
                    await connection.close()
                }
            }
            try await group.waitForAll()
        }
        _ = try await endedSessions(proxy.store, count: clients, timeout: 60)
        await proxy.stop()
        await server.stop()
        #expect(wrong.all.isEmpty, "wrong replies: \(wrong.all.prefix(5))")

        let expected = Set((0..<clients).flatMap { client in (0..<commands).map { "\(client)-\($0)" } })
        for store in [proxy.store, server.store] {
            let messages = try await RecordedRows.messages(store)
            let payloads = messages.compactMap { $0.payload.map { String(decoding: $0, as: UTF8.self) } }
            #expect(payloads.count == clients * commands, "\(store)")
            #expect(Set(payloads) == expected, "\(store)")
            #expect(messages.filter { $0.replyCode == 300 }.count == clients * commands, "\(store)")
            #expect(try await RecordedRows.sessions(store).count == clients)
        }
        print("proxy load: \(clients) connections x \(commands) commands, \(2 * clients * (commands + 1)) messages checked on each side, 0 lost")
    }
}
