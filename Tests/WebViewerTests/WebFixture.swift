import Backends
import Client
import Foundation
import NIOCore
import Protocols
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

/// Decoded sessions as the proxy records them: each turn cut by the protocol's real decoders
/// (through `MessageStream`) and paired into exchanges, written straight into a store.
enum DecodedFixture {
    /// An HTTP target with markup in it: the page must show it as text.
    static let hostileTarget = "/search?q=<script>window.pwned=3</script>"

    static let http: [(Sender, String)] = [
        (.client, "GET /users/42 HTTP/1.1\r\nHost: api.example\r\n\r\n"),
        (.server, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"id\": \"42\"}\n"),
        (.client, "GET \(hostileTarget) HTTP/1.1\r\nHost: api.example\r\n\r\n"),
        (.server, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"),
    ]

    static let resp: [(Sender, String)] = [
        (.client, "*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$5\r\nhello\r\n"),
        (.server, "+OK\r\n"),
        (.client, "*2\r\n$4\r\nINCR\r\n$8\r\ngreeting\r\n"),
        (.server, "-ERR value is not an integer or out of range\r\n"),
    ]

    /// Writes the http, resp and postgres sessions into the store at `location`; their ids.
    static func write(into location: StoreLocation) async throws -> (http: Int64, resp: Int64, postgres: Int64) {
        let store = try await location.openStore(.create)
        let started = WallClock.nowMicros()
        let ids = try await store.write([
            (session(HTTP1Protocol.self, http, serverPort: 8080, started: started), nil),
            (session(RESPProtocol.self, resp, serverPort: 6379, started: started + 100_000), nil),
            (postgres(started: started + 200_000), nil),
        ])
        await store.close()
        return (try #require(ids[0]), try #require(ids[1]), try #require(ids[2]))
    }

    /// Two simple queries, one answered with a row and one with an error, with the fields the
    /// PostgreSQL decoder gives (docs/PROTOCOLS.md) written by hand.
    static func postgres(started: Int64) -> CompleteSession {
        func query(_ sql: String) -> [UInt8] {
            let body = Array(sql.utf8) + [0]
            return [UInt8(ascii: "Q"), 0, 0, UInt8((body.count + 4) >> 8), UInt8((body.count + 4) & 0xFF)] + body
        }
        let select = "  select name from users where id = 1", insert = "insert into users values (1, 'ada')"
        let messages = [
            RecordedMessage(seq: 1, atMicros: started + 1_000, sender: .client, raw: query(select), verb: "Query",
                            fields: [MessageField("messages", .text("Query")), MessageField("statement", .text(select))]),
            RecordedMessage(seq: 2, atMicros: started + 1_500, sender: .server, raw: Array("C\0\0\0\rSELECT 1\0".utf8), verb: "CommandComplete",
                            fields: [MessageField("messages", .text("RowDescription,DataRow,CommandComplete,ReadyForQuery")),
                                     MessageField("tag", .text("SELECT 1")), MessageField("rows", .integer(1))],
                            exchange: ExchangeLink(requestSeq: 1, durationMicros: 500)),
            RecordedMessage(seq: 3, atMicros: started + 2_000, sender: .client, raw: query(insert), verb: "Query",
                            fields: [MessageField("messages", .text("Query")), MessageField("statement", .text(insert))]),
            RecordedMessage(seq: 4, atMicros: started + 2_700, sender: .server, raw: Array("E\0\0\0\u{5}".utf8), verb: "ErrorResponse",
                            fields: [MessageField("messages", .text("ErrorResponse,ReadyForQuery")), MessageField("sqlstate", .text("23505")),
                                     MessageField("severity", .text("ERROR")), MessageField("error", .text("duplicate key value"))],
                            exchange: ExchangeLink(requestSeq: 3, durationMicros: 700)),
        ]
        let info = SessionInfo(kind: .proxy, decoding: Decoding(PostgresProtocol.name), clientHost: "127.0.0.1", clientPort: 5001,
                               serverHost: "127.0.0.1", serverPort: 5432, startedMicros: started)
        let bytes = { (side: Sender) in Int64(messages.filter { $0.sender == side }.map(\.raw.count).reduce(0, +)) }
        let end = SessionEnd(atMicros: started + 3_000, reason: .clientClosed, bytesFromClient: bytes(.client), bytesFromServer: bytes(.server),
                             messageCount: 4)
        return CompleteSession(info: info, end: end, messages: messages)
    }

    /// `turns` as one session of `proto`, each turn a read 1 ms after the previous.
    static func session(_ proto: any WireProtocol.Type, _ turns: [(Sender, String)], serverPort: Int, started: Int64) -> CompleteSession {
        // Decoded, paired and stamped as the proxy's tap does it, one turn a millisecond.
        var decoder = ConversationDecoder(proto, limits: DecoderLimits())
        var messages: [RecordedMessage] = []
        let record: ConversationDecoder.Record = { sender, decoded, startedAt, link in
            let seq = Int64(messages.count + 1)
            messages.append(RecordedMessage(seq: seq, atMicros: startedAt, sender: sender, raw: Array(decoded.raw.readableBytesView),
                                            verb: decoded.verb, payloadRange: decoded.payloadRange, replyCode: decoded.replyCode,
                                            fields: decoded.fields, decodeError: decoded.decodeError, exchange: link))
            return seq
        }
        var at = started
        for (sender, text) in turns {
            at += 1_000
            decoder.feed(ByteBuffer(string: text), from: sender, at: at, record)
        }
        decoder.finish(.client, at: at, record)
        decoder.finish(.server, at: at, record)
        let info = SessionInfo(kind: .proxy, decoding: Decoding(proto.name), clientHost: "127.0.0.1", clientPort: 5000,
                               serverHost: "127.0.0.1", serverPort: serverPort, startedMicros: started)
        let bytes = { (side: Sender) in Int64(turns.filter { $0.0 == side }.map { $0.1.utf8.count }.reduce(0, +)) }
        let end = SessionEnd(atMicros: at + 1_000, reason: .clientClosed, bytesFromClient: bytes(.client), bytesFromServer: bytes(.server),
                             messageCount: Int64(messages.count))
        return CompleteSession(info: info, end: end, messages: messages)
    }
}
