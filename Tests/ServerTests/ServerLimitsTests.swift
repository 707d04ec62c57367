import Client
import Foundation
import LabProtocol
import NIOCore
import Server
import Testing
import TestSupport

@Suite struct ServerLimitsTests {
    private func start(_ backend: TestBackend, _ configure: (inout ServerConfiguration) -> Void) async throws -> (TestServer, TemporaryDirectory) {
        let dir = TemporaryDirectory()
        return (try await TestServer.start(store: try backend.freshStore(in: dir), configure: configure), dir)
    }

    @Test(arguments: TestBackend.allCases)
    func aLineOverTheLimitIsRefusedAndTheConnectionClosed(_ backend: TestBackend) async throws {
        let (server, dir) = try await start(backend) { $0.maxLineLength = 1024 }
        let connection = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        try await connection.send([UInt8](repeating: UInt8(ascii: "A"), count: 5000))
        let reply = try await connection.readReply().map { String(decoding: $0, as: UTF8.self) }
        #expect(reply == "400 BCMD\r\nCommand-description: Line too long (limit 1024 bytes), closing connection\r\n")
        #expect(try await connection.readReply() == nil)
        await connection.close()
        await server.stop()
        let session = try await RecordedRows.sessions(server.store).first
        #expect(session?.endReason == "line_too_long")
        let messages = try await RecordedRows.messages(server.store)
        #expect(messages.first?.raw.count == 1024)
        #expect(messages.last?.replyCode == 400)
        _ = dir
    }

    @Test(arguments: TestBackend.allCases)
    func aBareDataWhosePayloadIsOverTheLimitIsOneRefusedCommand(_ backend: TestBackend) async throws {
        let (server, dir) = try await start(backend) { $0.maxLineLength = 64 }
        let connection = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        try await connection.send(Array("DATA\n".utf8) + [UInt8](repeating: UInt8(ascii: "A"), count: 500) + Array("\n".utf8))
        let reply = try await connection.readReply().map { String(decoding: $0, as: UTF8.self) }
        #expect(reply == "400 BCMD\r\nCommand-description: Line too long (limit 64 bytes), closing connection\r\n")
        #expect(try await connection.readReply() == nil)
        await connection.close()
        await server.stop()
        let messages = try await RecordedRows.messages(server.store)
        #expect(messages.count == 2)
        // The DATA line is kept, in order, as the start of the refused command.
        #expect(messages.first.map { Array($0.raw.prefix(5)) } == Array("DATA\n".utf8))
        #expect(messages.first?.raw.dropFirst(5).allSatisfy { $0 == UInt8(ascii: "A") } == true)
        #expect(messages.last?.replyCode == 400)
        _ = dir
    }

    @Test(arguments: TestBackend.allCases)
    func anIdleConnectionIsClosed(_ backend: TestBackend) async throws {
        let (server, dir) = try await start(backend) { $0.idleTimeout = .milliseconds(200) }
        let connection = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        // nil: the server closed it; a hang would end in a timeout error instead.
        #expect(try await connection.readReply(timeout: .seconds(10)) == nil)
        await connection.close()
        await server.stop()
        #expect(try await RecordedRows.sessions(server.store).first?.endReason == "idle_timeout")
        _ = dir
    }

    @Test(arguments: TestBackend.allCases)
    func connectionsOverTheLimitAreRefusedWithOneLine(_ backend: TestBackend) async throws {
        let (server, dir) = try await start(backend) { $0.maxConnections = 2 }
        let first = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        let second = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        // A round trip each proves both were admitted before the third arrives.
        try await first.send(Array("HELO\n".utf8))
        #expect(try await first.readReply() == Array("100 OK\n".utf8))
        try await second.send(Array("HELO\n".utf8))
        #expect(try await second.readReply() == Array("100 OK\n".utf8))

        let third = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        let refusal = try await third.readReply().map { String(decoding: $0, as: UTF8.self) }
        #expect(refusal == "503 BUSY too many connections (limit 2), try again later\n")
        #expect(try await third.readReply() == nil)
        await third.close()

        await first.close()
        // Once a slot frees up, new clients are served again (bounded retry: the close is asynchronous).
        var served = false
        for _ in 0..<100 where !served {
            let next = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
            try? await next.send(Array("HELO\n".utf8))
            served = (try? await next.readReply()) == Array("100 OK\n".utf8)
            await next.close()
        }
        #expect(served)
        await second.close()
        await server.stop()
        let reasons = try await RecordedRows.sessions(server.store).compactMap(\.endReason)
        #expect(reasons.contains("refused"))
        _ = dir
    }

    @Test(arguments: TestBackend.allCases)
    func twoHundredConcurrentClientsAreAllRecordedExactlyOnce(_ backend: TestBackend) async throws {
        let (server, dir) = try await start(backend) { _ in }
        let clients = 200
        let commandsPerClient = 50
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<clients {
                group.addTask {
                    let connection = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
                    for n in 0..<commandsPerClient {
                        try await connection.send(Array("DATA c\(client) n\(n)\n".utf8))
                        let reply = try await connection.readReply()
                        #expect(reply == Array("300 DRCV\n".utf8))
                    }
                    try await connection.send(Array("QUIT\n".utf8))
                    #expect(try await connection.readReply() == Array("200 BYE\n".utf8))
                    await connection.close()
                }
            }
            try await group.waitForAll()
        }
        await server.stop()
        let sessions = try await RecordedRows.sessions(server.store)
        #expect(sessions.count == clients)
        #expect(sessions.allSatisfy { $0.endReason == "quit" && $0.messageCount == Int64(2 * (commandsPerClient + 1)) })
        let messages = try await RecordedRows.messages(server.store)
        #expect(messages.count == clients * 2 * (commandsPerClient + 1))
        let payloads = messages.compactMap { $0.payload.map { String(decoding: $0, as: UTF8.self) } }
        #expect(Set(payloads).count == clients * commandsPerClient)
        _ = dir
    }
}
