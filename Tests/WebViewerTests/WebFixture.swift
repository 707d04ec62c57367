import Client
import Foundation
import Recording
import SQLiteBackend
import Testing
import TestSupport

/// A real store for the viewer: sessions recorded by the in-process lab server (one with hostile
/// payloads, one with a long message), plus a session and its replay written whole.
struct WebFixture {
    static let imagePayload = "<img src=x onerror=\"window.pwned=1\">"
    static let scriptPayload = "</script><script>window.pwned=2</script>"
    static let longPayload = String(repeating: "0123456789abcdef", count: 600)

    let dir: TemporaryDirectory
    let path: String
    /// Ids: the hostile session, the long one, the original and its replay.
    let hostile: Int64
    let long: Int64
    let original: Int64
    let replay: Int64

    static func record() async throws -> WebFixture {
        let dir = TemporaryDirectory("wirelog-web")
        let path = dir.file("recorded.sqlite")
        let server = try await TestServer.start(databasePath: path)
        try await converse(port: server.port, ["HELO\n", "DATA \(imagePayload)\n", "DATA \(scriptPayload)\n", "QUIT\n"])
        try await converse(port: server.port, ["HELO\n", "DATA \(longPayload)\n", "QUIT\n"])
        await server.stop()

        let store = SQLiteStore(database: try SQLiteFile.openForWriting(path: path))
        let started = WallClock.nowMicros()
        func session(replayOf: Int64?, reply: String) -> CompleteSession {
            let info = SessionInfo(kind: replayOf == nil ? .server : .replay, decoding: .lab, clientHost: "127.0.0.1", clientPort: 4000,
                                   serverHost: "127.0.0.1", serverPort: 7070, startedMicros: started, replayOf: replayOf)
            let messages = [
                RecordedMessage(seq: 1, atMicros: started + 10, sender: .client, raw: Array("HELO\n".utf8), verb: "HELO"),
                RecordedMessage(seq: 2, atMicros: started + 20, sender: .server, raw: Array(reply.utf8), replyCode: 100),
            ]
            let end = SessionEnd(atMicros: started + 30, reason: .clientClosed, bytesFromClient: 5, bytesFromServer: Int64(reply.utf8.count), messageCount: 2)
            return CompleteSession(info: info, end: end, messages: messages)
        }
        let original = try #require(try await store.write([(session(replayOf: nil, reply: "100 OK\n"), nil)]).first ?? nil)
        let replay = try #require(try await store.write([(session(replayOf: original, reply: "100 OK\r\n"), nil)]).first ?? nil)
        await store.close()
        return WebFixture(dir: dir, path: path, hostile: 1, long: 2, original: original, replay: replay)
    }

    /// One connection that sends `commands`, each after the previous reply.
    static func converse(port: Int, _ commands: [String]) async throws {
        let connection = try await LabConnection.connect(host: "127.0.0.1", port: port)
        for command in commands {
            try await connection.send(Array(command.utf8))
            _ = try await connection.readReply()
        }
        await connection.close()
    }
}
