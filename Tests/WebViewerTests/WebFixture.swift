import Backends
import Client
import Foundation
import Recording
import Testing
import TestSupport

/// A real store of the backend for the viewer: sessions recorded by the in-process lab server
/// (one with hostile payloads, one with a long message), plus a session and its replay written whole.
struct WebFixture {
    static let imagePayload = "<img src=x onerror=\"window.pwned=1\">"
    static let scriptPayload = "</script><script>window.pwned=2</script>"
    static let longPayload = String(repeating: "0123456789abcdef", count: 600)

    let dir: TemporaryDirectory
    let store: StoreLocation
    /// Ids: the hostile session, the long one, the original and its replay.
    let hostile: Int64
    let long: Int64
    let original: Int64
    let replay: Int64

    static func record(_ backend: TestBackend) async throws -> WebFixture {
        let dir = TemporaryDirectory("wirelog-web")
        let location = try backend.freshStore(in: dir, name: "recorded")
        let server = try await TestServer.start(store: location)
        try await converse(port: server.port, ["HELO\n", "DATA \(imagePayload)\n", "DATA \(scriptPayload)\n", "QUIT\n"])
        try await converse(port: server.port, ["HELO\n", "DATA \(longPayload)\n", "QUIT\n"])
        await server.stop()
        let recorded = try await RecordedRows.sessions(location).map(\.id)
        try #require(recorded.count == 2)

        let store = try await location.openStore(.modify)
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
        return WebFixture(dir: dir, store: location, hostile: recorded[0], long: recorded[1], original: original, replay: replay)
    }

    /// One connection that sends `commands`, each after the previous reply.
    static func converse(port: Int, _ commands: [String]) async throws {
        try await connect(port: port, commands).close()
    }

    /// A connection that has sent `commands`, each after the previous reply, and stays open.
    static func connect(port: Int, _ commands: [String]) async throws -> LabConnection {
        let connection = try await LabConnection.connect(host: "127.0.0.1", port: port)
        for command in commands {
            try await connection.send(Array(command.utf8))
            _ = try await connection.readReply()
        }
        return connection
    }
}
