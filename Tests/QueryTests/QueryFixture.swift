import Backends
import Client
import Foundation
import Recording
import SQLiteBackend
import Testing
import TestSupport

/// A real recording: the in-process lab server records into a fresh store of the backend, the
/// tests then run the built `wirelog sessions … --db` against it (TZ=UTC so local times are predictable).
struct QueryFixture {
    let dir: TemporaryDirectory
    let store: StoreLocation
    let sessions: [SessionRow]
    let messages: [MessageRow]

    /// The hostile DATA payload: an ANSI colour sequence, NUL and invalid UTF-8.
    static let hostilePayload: [UInt8] = Array("\u{1b}[31mred\u{1b}[0m".utf8) + [0x00, 0xFF, 0xFE]

    /// Session 1: HELO, DATA hello world, QUIT (quit). Session 2: hostile DATA, FOO (400), the
    /// client closes (client_closed). Session 3: HELO, the client closes.
    static func record(_ backend: TestBackend) async throws -> QueryFixture {
        let dir = TemporaryDirectory("wirelog-query")
        let store = try backend.freshStore(in: dir, name: "recorded")
        let server = try await TestServer.start(store: store)

        let first = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        try await exchange(first, ["HELO\n": "100 OK\n", "DATA hello world\n": "300 DRCV\n", "QUIT\n": "200 BYE\n"],
                           order: ["HELO\n", "DATA hello world\n", "QUIT\n"])
        #expect(try await first.readReply() == nil)
        await first.close()

        let second = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        try await second.send(Array("DATA ".utf8) + hostilePayload + Array("\r\n".utf8))
        #expect(try await second.readReply() == Array("300 DRCV\n".utf8))
        try await second.send(Array("FOO\n".utf8))
        #expect(try await second.readReply() == Array("400 BCMD\r\nCommand-description: Bad command\r\n".utf8))
        try await second.finishSending()
        #expect(try await second.readReply() == nil)
        await second.close()

        let third = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        try await exchange(third, ["HELO\n": "100 OK\n"], order: ["HELO\n"])
        try await third.finishSending()
        #expect(try await third.readReply() == nil)
        await third.close()

        await server.stop()
        return QueryFixture(dir: dir, store: store, sessions: try await RecordedRows.sessions(store),
                            messages: try await RecordedRows.messages(store))
    }

    private static func exchange(_ connection: LabConnection, _ replies: [String: String], order: [String]) async throws {
        for command in order {
            try await connection.send(Array(command.utf8))
            #expect(try await connection.readReply() == Array(replies[command]!.utf8))
        }
    }

    /// `wirelog sessions <arguments> --db <store>`.
    func run(_ arguments: [String]) throws -> ProcessResult {
        try QueryFixture.sessions(arguments, db: store.argument)
    }

    static func sessions(_ arguments: [String], db: String) throws -> ProcessResult {
        try WirelogProcess.run(["sessions"] + arguments + ["--db", db], environment: ["TZ": "UTC"])
    }

    func messages(ofSession id: Int64) -> [MessageRow] { messages.filter { $0.sessionID == id } }
}

extension ProcessResult {
    /// The stdout parsed as JSON.
    func json() throws -> Any {
        try JSONSerialization.jsonObject(with: Data(stdout))
    }

    /// Each stdout line parsed as JSON.
    func jsonLines() throws -> [[String: Any]] {
        try stdoutText.split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }
}

/// Base64 text from JSON → bytes.
func base64Bytes(_ value: Any?) -> [UInt8]? {
    (value as? String).flatMap { Data(base64Encoded: $0) }.map { Array($0) }
}
