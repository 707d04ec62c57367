import Client
import Foundation
import LabProtocol
import NIOCore
import Server
import Testing
import TestSupport

private let labBadCommand = "400 BCMD\r\nCommand-description: Bad command\r\n"

/// A server on an ephemeral port for one test, recording into a fresh store of `backend`.
private func withServer(_ backend: TestBackend, _ configure: (inout ServerConfiguration) -> Void = { _ in },
                        _ body: (TestServer) async throws -> Void) async throws {
    let dir = TemporaryDirectory()
    let server = try await TestServer.start(store: try backend.freshStore(in: dir), configure: configure)
    do {
        try await body(server)
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
    _ = dir
}

private func connect(_ server: TestServer) async throws -> LabConnection {
    try await LabConnection.connect(host: "127.0.0.1", port: server.port)
}

/// Sends `command` and returns the reply as text.
private func ask(_ connection: LabConnection, _ command: String) async throws -> String? {
    try await connection.send(Array(command.utf8))
    return try await connection.readReply().map { String(decoding: $0, as: UTF8.self) }
}

/// Reads replies until the server closes; returns them concatenated.
private func readUntilClosed(_ connection: LabConnection) async throws -> String {
    var all: [UInt8] = []
    while let reply = try await connection.readReply() { all += reply }
    all += connection.takeUnframedBytes()
    return String(decoding: all, as: UTF8.self)
}

@Suite struct ServerProtocolTests {
    @Test(arguments: TestBackend.allCases)
    func theLabSequenceGivesTheLabsBytes(_ backend: TestBackend) async throws {
        try await withServer(backend) { server in
            let connection = try await connect(server)
            #expect(try await ask(connection, "HELO\n") == "100 OK\n")
            #expect(try await ask(connection, "DATA\nHello world\n") == "300 DRCV\n")
            #expect(try await ask(connection, "USER\n") == labBadCommand)
            #expect(try await ask(connection, "QUIT\n") == "200 BYE\n")
            #expect(try await connection.readReply() == nil)  // the server closed
            await connection.close()
            await server.stop()

            let sessions = try await RecordedRows.sessions(server.store)
            #expect(sessions.count == 1)
            #expect(sessions[0].endReason == "quit")
            #expect(sessions[0].kind == "server")
            #expect(sessions[0].bytesFromClient == Int64("HELO\nDATA\nHello world\nUSER\nQUIT\n".utf8.count))
            let messages = try await RecordedRows.messages(server.store)
            #expect(messages.map(\.sender) == ["client", "server", "client", "server", "client", "server", "client", "server"])
            #expect(messages.map(\.rawText) == ["HELO\n", "100 OK\n", "DATA\nHello world\n", "300 DRCV\n",
                                                "USER\n", labBadCommand, "QUIT\n", "200 BYE\n"])
            #expect(messages.map(\.verb) == ["HELO", nil, "DATA", nil, "USER", nil, "QUIT", nil])
            #expect(messages[2].payload == Array("Hello world".utf8))
            #expect(messages.map(\.replyCode) == [nil, 100, nil, 300, nil, 400, nil, 200])
            // Timestamps order the conversation and give each command's latency.
            #expect(messages.map(\.atMicros) == messages.map(\.atMicros).sorted())
        }
    }

    @Test(arguments: TestBackend.allCases)
    func unterminatedCommandsSentOneWriteEachAreAnswered(_ backend: TestBackend) async throws {
        try await withServer(backend, { $0.quietPeriod = .milliseconds(50) }) { server in
            let connection = try await connect(server)
            // As the lab's reference client: one write per command, no terminator at all.
            #expect(try await ask(connection, "HELO") == "100 OK\n")
            #expect(try await ask(connection, "DATA hello world") == "300 DRCV\n")
            #expect(try await ask(connection, "QUIT") == "200 BYE\n")
            await connection.close()
            await server.stop()
            let messages = try await RecordedRows.messages(server.store).filter { $0.sender == "client" }
            #expect(messages.map(\.rawText) == ["HELO", "DATA hello world", "QUIT"])
            #expect(messages[1].payload == Array("hello world".utf8))
        }
    }

    @Test(arguments: TestBackend.allCases)
    func pipelinedCommandsInOneWriteAreAnsweredInOrder(_ backend: TestBackend) async throws {
        try await withServer(backend) { server in
            let connection = try await connect(server)
            try await connection.send(Array("HELO\r\nDATA a\r\nDATA\r\nb\r\nNOPE\r\n\r\nhelo x\r\nQUIT\r\n".utf8))
            let all = try await readUntilClosed(connection)
            #expect(all == "100 OK\n300 DRCV\n300 DRCV\n" + labBadCommand + labBadCommand + "100 OK\n200 BYE\n")
            await connection.close()
            await server.stop()
            let commands = try await RecordedRows.messages(server.store).filter { $0.sender == "client" }
            #expect(commands.map(\.verb) == ["HELO", "DATA", "DATA", "NOPE", nil, "helo", "QUIT"])
            #expect(commands[2].payload == Array("b".utf8))
        }
    }

    @Test(arguments: TestBackend.allCases)
    func bytesArrivingOneAtATimeGiveTheSameConversation(_ backend: TestBackend) async throws {
        // A quiet period far longer than any gap between the writes, even on a loaded machine.
        try await withServer(backend, { $0.quietPeriod = .seconds(5) }) { server in
            let connection = try await connect(server)
            let script = Array("HELO\nDATA\r\npayload\r\nQUIT\n".utf8)
            for byte in script { try await connection.send([byte]) }
            let all = try await readUntilClosed(connection)
            #expect(all == "100 OK\n300 DRCV\n200 BYE\n")
            await connection.close()
            await server.stop()
            let commands = try await RecordedRows.messages(server.store).filter { $0.sender == "client" }
            #expect(commands.map(\.rawText) == ["HELO\n", "DATA\r\npayload\r\n", "QUIT\n"])
        }
    }

    @Test(arguments: TestBackend.allCases)
    func binaryAndInvalidUTF8PayloadsAreStoredExactly(_ backend: TestBackend) async throws {
        try await withServer(backend) { server in
            let connection = try await connect(server)
            let binary: [UInt8] = (0...255).map(UInt8.init).filter { $0 != 0x0A && $0 != 0x0D }
            let invalid: [UInt8] = [0xFF, 0xFE, 0xC0, 0xAF, 0xED, 0xA0, 0x80, 0x00, 0x1B, 0x5B]
            try await connection.send(Array("DATA ".utf8) + binary + [0x0A])
            #expect(try await connection.readReply() == Array("300 DRCV\n".utf8))
            try await connection.send(Array("DATA\n".utf8) + invalid + [0x0A])
            #expect(try await connection.readReply() == Array("300 DRCV\n".utf8))
            try await connection.send(invalid + [0x0A])
            #expect(try await connection.readReply() == Array(labBadCommand.utf8))
            await connection.close()
            await server.stop()
            let commands = try await RecordedRows.messages(server.store).filter { $0.sender == "client" }
            #expect(commands.count == 3)
            #expect(commands[0].payload == binary)
            #expect(commands[1].payload == invalid)
            #expect(commands[2].raw == invalid + [0x0A])
            #expect(commands[2].verb == nil)
        }
    }

    /// About replies only (the recording is not read): one backend is enough.
    @Test func aLineEndingOptionAppliesToEveryReplyLine() async throws {
        try await withServer(.sqlite, { $0.lineEnding = .crlf }) { server in
            let connection = try await connect(server)
            #expect(try await ask(connection, "HELO\n") == "100 OK\r\n")
            #expect(try await ask(connection, "X\n") == labBadCommand)
            await connection.close()
        }
        try await withServer(.sqlite, { $0.lineEnding = .lf }) { server in
            let connection = try await connect(server)
            #expect(try await ask(connection, "X\n") == "400 BCMD\nCommand-description: Bad command\n")
            await connection.close()
        }
    }

    @Test(arguments: TestBackend.allCases)
    func strictLineFramingWaitsForTheLF(_ backend: TestBackend) async throws {
        try await withServer(backend, { $0.framing = .line; $0.quietPeriod = .milliseconds(20) }) { server in
            let connection = try await connect(server)
            try await connection.send(Array("HEL".utf8))
            // Longer than the quiet period: with auto framing this would already be a command.
            try await Task.sleep(for: .milliseconds(150))
            #expect(try await ask(connection, "O\n") == "100 OK\n")
            await connection.close()
            await server.stop()
            let commands = try await RecordedRows.messages(server.store).filter { $0.sender == "client" }
            #expect(commands.map(\.rawText) == ["HELO\n"])
        }
    }

    @Test(arguments: TestBackend.allCases)
    func aHalfClosedClientStillGetsEveryReply(_ backend: TestBackend) async throws {
        try await withServer(backend) { server in
            let connection = try await connect(server)
            try await connection.send(Array("HELO\nDATA\nlast words".utf8))
            try await connection.finishSending()
            let all = try await readUntilClosed(connection)
            #expect(all == "100 OK\n300 DRCV\n")
            await connection.close()
            await server.stop()
            let sessions = try await RecordedRows.sessions(server.store)
            #expect(sessions.first?.endReason == "client_closed")
            let commands = try await RecordedRows.messages(server.store).filter { $0.sender == "client" }
            #expect(commands.last?.payload == Array("last words".utf8))
        }
    }
}
