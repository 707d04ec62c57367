import Backends
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LabProtocol
import Logging
import Recording
import SQLiteBackend
import SessionFormats
import Testing
import TestSupport
@testable import WebViewer

/// The JSON API, pages and downloads over real HTTP (HummingbirdTesting's live server) against
/// a real store of each backend recorded by the lab server.
@Suite(.serialized) struct ViewerAPITests {
    static let logger = Logger(label: "web-test")

    static func viewer(_ location: StoreLocation, token: String? = nil) -> some ApplicationProtocol {
        let store = ViewerStore { try await location.openStore(.read) }
        return WebViewer.application(store: store, settings: WebViewerSettings(host: "127.0.0.1", port: 0, token: token), logger: logger)
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
    }

    @Test(arguments: TestBackend.allCases)
    func listPagesWithAKeysetCursorAndFiltersAsTheCLI(_ backend: TestBackend) async throws {
        let fixture = try await WebFixture.record(backend)
        try await Self.viewer(fixture.store).test(.live) { client in
            let first = try await client.execute(uri: "/api/sessions?limit=2", method: .get)
            #expect(first.status == .ok)
            let page = try Self.json(first)
            let ids = try #require(page["sessions"] as? [[String: Any]]).compactMap { $0["id"] as? Int64 }
            #expect(ids.count == 2)
            let next = try #require(page["next"] as? String)
            let second = try Self.json(try await client.execute(uri: "/api/sessions?limit=2&before=\(next)", method: .get))
            let more = try #require(second["sessions"] as? [[String: Any]]).compactMap { $0["id"] as? Int64 }
            #expect(Set(ids + more) == [fixture.hostile, fixture.long, fixture.original, fixture.replay])

            let replays = try Self.json(try await client.execute(uri: "/api/sessions?kind=replay", method: .get))
            #expect((replays["sessions"] as? [[String: Any]])?.compactMap { $0["id"] as? Int64 } == [fixture.replay])
            let text = try Self.json(try await client.execute(uri: "/api/sessions?q=%3Cimg", method: .get))
            #expect((text["sessions"] as? [[String: Any]])?.compactMap { $0["id"] as? Int64 } == [fixture.hostile])

            let bad = try await client.execute(uri: "/api/sessions?kind=bogus", method: .get)
            #expect(bad.status == .badRequest)
            #expect(try Self.json(bad)["error"] as? String == "unknown --kind 'bogus': use server, proxy, replay or mock")
            let badTime = try await client.execute(uri: "/api/sessions?since=yesterday", method: .get)
            #expect(badTime.status == .badRequest)
            #expect((try Self.json(badTime)["error"] as? String)?.hasPrefix("cannot read 'yesterday' as a time") == true)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func messagesAreEscapedAsTheCLIPrintsThemAndLongOnesCut(_ backend: TestBackend) async throws {
        let fixture = try await WebFixture.record(backend)
        try await Self.viewer(fixture.store).test(.live) { client in
            let hostile = try Self.json(try await client.execute(uri: "/api/sessions/\(fixture.hostile)/messages", method: .get))
            let hostileMessages = try #require(hostile["messages"] as? [[String: Any]])
            let texts = hostileMessages.compactMap { $0["text"] as? String }
            #expect(texts.contains(Escaping.escape(Array("DATA \(WebFixture.imagePayload)\n".utf8))))
            // A lab session is not decoded by a protocol: no exchanges, nothing rendered.
            #expect((hostile["exchanges"] as? [Any])?.isEmpty == true)
            #expect(hostileMessages.allSatisfy { $0["rendered"] == nil })
            #expect(texts.contains("DATA \(WebFixture.scriptPayload)\\n"))

            let clientOnly = try Self.json(try await client.execute(uri: "/api/sessions/\(fixture.hostile)/messages?sender=server&limit=2", method: .get))
            let senders = try #require(clientOnly["messages"] as? [[String: Any]]).compactMap { $0["sender"] as? String }
            #expect(senders == ["server", "server"])
            #expect(clientOnly["next"] is Int64)

            let long = try Self.json(try await client.execute(uri: "/api/sessions/\(fixture.long)/messages", method: .get))
            let cut = try #require((long["messages"] as? [[String: Any]])?.first { $0["cut"] as? Bool == true })
            #expect((cut["text"] as? String)?.utf8.count == MessageView.cutBytes)
            let whole = try Self.json(try await client.execute(uri: "/api/sessions/\(fixture.long)/messages/\(cut["id"] as? Int64 ?? 0)", method: .get))
            #expect(whole["text"] as? String == "DATA \(WebFixture.longPayload)\\n")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func decodedSessionsComeWithTheirExchangesAndRenderedMessages(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory("wirelog-web")
        let location = try backend.freshStore(in: dir, name: "decoded")
        let ids = try await DecodedFixture.write(into: location)
        try await Self.viewer(location).test(.live) { client in
            let http = try Self.json(try await client.execute(uri: "/api/sessions/\(ids.http)/messages", method: .get))
            let messages = try #require(http["messages"] as? [[String: Any]])
            #expect(messages.count == 4)
            let rendered = messages.map { $0["rendered"] as? [String: Any] }
            #expect(rendered.map { $0?["summary"] as? String } == ["GET /users/42 HTTP/1.1", "HTTP/1.1 200 OK",
                                                                  "GET \(DecodedFixture.hostileTarget) HTTP/1.1", "HTTP/1.1 503 Service Unavailable"])
            #expect(rendered[0]?["label"] as? String == "GET")
            #expect(rendered[0]?["details"] as? [String] == ["Host: api.example"])
            #expect((rendered[1]?["details"] as? [String])?.last == #"body 13 bytes: {"id": "42"}\n"#)
            #expect(messages.map { $0["duration_text"] != nil } == [false, true, false, true])

            let exchanges = try #require(http["exchanges"] as? [[String: Any]])
            #expect(exchanges.map { $0["request_seq"] as? Int64 } == [1, 3])
            let requests = exchanges.map { $0["request"] as? [String: Any] }
            let responses = exchanges.map { $0["response"] as? [String: Any] }
            #expect(requests.map { $0?["kind"] as? String } == ["GET", "GET"])
            #expect(requests.map { $0?["target"] as? String } == ["/users/42", DecodedFixture.hostileTarget])
            #expect(requests.map { $0?["id"] as? Int64 } == [messages[0]["id"] as? Int64, messages[2]["id"] as? Int64])
            #expect(responses.map { $0?["outcome"] as? String } == ["200", "503"])
            #expect(responses.map { $0?["duration_us"] as? Int64 } == [1_000, 1_000])
            #expect(responses.allSatisfy { $0?["duration_text"] is String })

            // An exchange split over two pages comes as its request's half, then its response's.
            let first = try Self.json(try await client.execute(uri: "/api/sessions/\(ids.http)/messages?limit=1", method: .get))
            let firstRows = try #require(first["exchanges"] as? [[String: Any]])
            #expect(firstRows.count == 1 && firstRows[0]["request"] != nil && firstRows[0]["response"] == nil)
            let second = try Self.json(try await client.execute(uri: "/api/sessions/\(ids.http)/messages?limit=1&after=\(first["next"] as? Int64 ?? 0)", method: .get))
            let secondRows = try #require(second["exchanges"] as? [[String: Any]])
            #expect(secondRows.count == 1 && secondRows[0]["request"] == nil && secondRows[0]["request_seq"] as? Int64 == 1)
            // A direction filter shows one side, the exchanges both.
            let replies = try Self.json(try await client.execute(uri: "/api/sessions/\(ids.http)/messages?sender=server", method: .get))
            let replyRows = try #require(replies["exchanges"] as? [[String: Any]])
            #expect(replyRows.count == 2 && replyRows.allSatisfy { $0["request"] != nil && $0["response"] != nil })

            let resp = try Self.json(try await client.execute(uri: "/api/sessions/\(ids.resp)/messages", method: .get))
            let commands = try #require(resp["messages"] as? [[String: Any]]).map { $0["rendered"] as? [String: Any] }
            #expect(commands.map { $0?["summary"] as? String } == ["SET greeting hello", "+OK", "INCR greeting",
                                                                  "-ERR value is not an integer or out of range"])
            let respRows = try #require(resp["exchanges"] as? [[String: Any]])
            #expect(respRows.map { ($0["request"] as? [String: Any])?["kind"] as? String } == ["SET", "INCR"])
            #expect(respRows.map { ($0["request"] as? [String: Any])?["target"] as? String } == ["greeting", "greeting"])
            #expect(respRows.map { ($0["response"] as? [String: Any])?["outcome"] as? String } == ["simple", "error"])
            #expect(respRows.map { ($0["response"] as? [String: Any])?["error"] as? String } == [nil, "ERR"])

            let postgres = try Self.json(try await client.execute(uri: "/api/sessions/\(ids.postgres)/messages", method: .get))
            let statements = try #require(postgres["exchanges"] as? [[String: Any]])
            #expect(statements.map { ($0["request"] as? [String: Any])?["kind"] as? String } == ["SELECT", "INSERT"])
            #expect(statements.map { ($0["response"] as? [String: Any])?["outcome"] as? String } == ["SELECT 1", nil])
            #expect(statements.map { ($0["response"] as? [String: Any])?["error"] as? String } == [nil, "23505"])
            let turns = try #require(postgres["messages"] as? [[String: Any]]).map { ($0["rendered"] as? [String: Any])?["summary"] as? String }
            #expect(turns[3] == "ERROR 23505: duplicate key value")

            // One message whole is rendered too.
            let id = try #require(messages[2]["id"] as? Int64)
            let whole = try Self.json(try await client.execute(uri: "/api/sessions/\(ids.http)/messages/\(id)", method: .get))
            #expect((whole["rendered"] as? [String: Any])?["summary"] as? String == "GET \(DecodedFixture.hostileTarget) HTTP/1.1")
        }
    }

    /// The list's protocol filters are the CLI's, by the same names.
    @Test(arguments: TestBackend.allCases)
    func theListFiltersOnWhatTheDecodersRead(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory("wirelog-web")
        let location = try backend.freshStore(in: dir, name: "decoded")
        let ids = try await DecodedFixture.write(into: location)
        try await Self.viewer(location).test(.live) { client in
            func listed(_ query: String) async throws -> [Int64] {
                let page = try Self.json(try await client.execute(uri: "/api/sessions?\(query)", method: .get))
                return try #require(page["sessions"] as? [[String: Any]]).compactMap { $0["id"] as? Int64 }.sorted()
            }
            #expect(try await listed("decoding=resp") == [ids.resp])
            #expect(try await listed("status=5xx") == [ids.http])
            #expect(try await listed("status=404") == [])
            #expect(try await listed("path=%2Fusers%2F") == [ids.http])
            #expect(try await listed("sqlstate=23505") == [ids.postgres])
            #expect(try await listed("field=tag%3DSELECT%201") == [ids.postgres])
            #expect(try await listed("decoding=http&slower_than=500us") == [ids.http])
            #expect(try await listed("decoding=http&slower_than=2ms") == [])
            let bad = try await client.execute(uri: "/api/sessions?status=teapot", method: .get)
            #expect(bad.status == .badRequest)
            #expect(String(buffer: bad.body).contains("--status takes a status (404) or a class (5xx)"))
        }
    }

    @Test(arguments: TestBackend.allCases)
    func unknownSessionsAndBadValuesAnswerWithTheCLIsWords(_ backend: TestBackend) async throws {
        let fixture = try await WebFixture.record(backend)
        try await Self.viewer(fixture.store).test(.live) { client in
            let missing = try await client.execute(uri: "/api/sessions/999", method: .get)
            #expect(missing.status == .notFound)
            #expect(try Self.json(missing)["error"] as? String == RecordingError.noSuchSession(999).description)
            let page = try await client.execute(uri: "/sessions/999", method: .get)
            #expect(page.status == .notFound)
            #expect(String(buffer: page.body).contains("no session 999 in this store"))
            #expect(try await client.execute(uri: "/api/sessions/abc", method: .get).status == .badRequest)
            #expect(try await client.execute(uri: "/nowhere", method: .get).status == .notFound)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func everyResponseCarriesTheSecurityHeaders(_ backend: TestBackend) async throws {
        let fixture = try await WebFixture.record(backend)
        try await Self.viewer(fixture.store).test(.live) { client in
            for uri in ["/", "/sessions/1", "/assets/list.js", "/api/sessions", "/api/sessions/999", "/sessions/1/download/json"] {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.headers[.contentSecurityPolicy] == SecurityHeaders.contentSecurityPolicy, "\(uri)")
                #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff", "\(uri)")
            }
            let html = String(buffer: try await client.execute(uri: "/", method: .get).body)
            #expect(!html.contains("<script>"), "no inline script")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func downloadsAreTheExportsBytesAsAttachments(_ backend: TestBackend) async throws {
        let fixture = try await WebFixture.record(backend)
        let store = try await fixture.store.openStore(.read)
        let session = try await store.session(fixture.hostile)
        try await Self.viewer(fixture.store).test(.live) { client in
            for format in ExportFormat.allCases {
                var expected: [UInt8] = []
                try await SessionExporter(store: store).write([session], as: format) { expected += $0 }
                let response = try await client.execute(uri: "/sessions/\(fixture.hostile)/download/\(format.rawValue)", method: .get)
                #expect(response.status == .ok)
                #expect(Array(buffer: response.body) == expected, "\(format)")
                #expect(response.headers[.contentDisposition]?.hasPrefix("attachment;") == true)
            }
            #expect(try await client.execute(uri: "/sessions/\(fixture.hostile)/download/zip", method: .get).status == .badRequest)
        }
        await store.close()
    }

    @Test(arguments: TestBackend.allCases)
    func statsAndTheReplayPairUseTheCLIsCode(_ backend: TestBackend) async throws {
        let fixture = try await WebFixture.record(backend)
        try await Self.viewer(fixture.store).test(.live) { client in
            let stats = try Self.json(try await client.execute(uri: "/api/stats", method: .get))
            #expect(stats["sessions"] as? Int64 == 4)
            #expect(stats["latency_text"] != nil)
            let pair = try Self.json(try await client.execute(uri: "/api/replays/\(fixture.replay)", method: .get))
            #expect(pair["differing"] as? Int == 1)
            let step = try #require((pair["steps"] as? [[String: Any]])?.first)
            #expect(step["expected"] as? String == "100 OK\\n")
            #expect(step["actual"] as? String == "100 OK\\r\\n")
            #expect(step["first_difference"] as? [Int] == [6, 6])
            // The recorded end is a step too, as `wirelog replay` counts it ("1 of 2 steps differ").
            let steps = try #require(pair["steps"] as? [[String: Any]])
            #expect(steps.count == 2)
            #expect(steps.last?["kind"] as? String == "close")
            #expect(steps.last?["ending"] as? String == "the client closed" && steps.last?["replay_ending"] as? String == "the client closed")
            #expect(steps.last?["differs"] as? Bool == false)
            #expect(try await client.execute(uri: "/api/replays/\(fixture.original)", method: .get).status == .badRequest)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func aTokenIsCheckedOnEveryRequest(_ backend: TestBackend) async throws {
        let fixture = try await WebFixture.record(backend)
        try await Self.viewer(fixture.store, token: "s3cret").test(.live) { client in
            for uri in ["/", "/api/sessions", "/api/events", "/assets/common.js"] {
                let refused = try await client.execute(uri: uri, method: .get)
                #expect(refused.status == .unauthorized, "\(uri)")
                #expect(!String(buffer: refused.body).contains("127.0.0.1"), "\(uri)")
            }
            #expect(try await client.execute(uri: "/api/sessions", method: .get, headers: [.authorization: "Bearer wrong"]).status == .unauthorized)
            #expect(try await client.execute(uri: "/api/sessions", method: .get, headers: [.authorization: "Bearer s3cret"]).status == .ok)
            let visit = try await client.execute(uri: "/?token=s3cret&kind=server", method: .get)
            #expect(visit.status == .seeOther)
            #expect(visit.headers[.location] == "/?kind=server")
            let cookie = try #require(visit.headers[.setCookie]?.split(separator: ";").first.map(String.init))
            #expect(try await client.execute(uri: "/api/sessions", method: .get, headers: [.cookie: cookie]).status == .ok)
        }
        #expect(throws: WebViewerError.tokenRequired(host: "0.0.0.0")) { try WebViewerSettings(host: "0.0.0.0").validate() }
    }

    @Test(arguments: TestBackend.allCases)
    func aStoreThatCannotBeReadIsAnErrorPageAndTheServerStaysUp(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory("wirelog-web")
        // No file yet; an empty PostgreSQL database (no wirelog schema).
        let location = try backend.freshStore(in: dir, name: "later")
        try await Self.viewer(location).test(.live) { client in
            for _ in 0..<2 {
                let page = try await client.execute(uri: "/sessions/1", method: .get)
                #expect(page.status == .serviceUnavailable)
                #expect(String(buffer: page.body).contains("the store cannot be read"))
            }
            // The store appears: the next request opens it.
            let server = try await TestServer.start(store: location)
            try await WebFixture.converse(port: server.port, ["HELO\n", "QUIT\n"])
            await server.stop()
            #expect(try await client.execute(uri: "/api/sessions/1", method: .get).status == .ok)
        }
    }
}
