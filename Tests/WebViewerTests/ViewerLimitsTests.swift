import Backends
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LabProtocol
import Recording
import Testing
import TestSupport
@testable import WebViewer

/// What the viewer answers to requests no page makes: other Host names, tokens in other
/// spellings, hostile paths and ids, huge addresses, sessions too big to send whole.
@Suite(.serialized) struct ViewerLimitsTests {
    static let token = "0123456789abcdef0123456789abcdef"

    /// One request over a plain socket, exactly as written (the test client sets Host itself).
    static func exchange(port: Int, _ request: String) throws -> (status: Int, headers: [String: String], body: String) {
        let socket = try RawSocket(port: port)
        try socket.sendAll(Array(request.utf8))
        let answer = String(decoding: socket.receiveUntilClosed(timeout: 10).bytes, as: UTF8.self)
        let parts = answer.components(separatedBy: "\r\n\r\n")
        let lines = parts[0].components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ").dropFirst().first ?? "") ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, headers, parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    static func get(port: Int, _ path: String, host: String, headers: [String] = []) throws -> (status: Int, headers: [String: String], body: String) {
        try exchange(port: port, (["GET \(path) HTTP/1.1", "Host: \(host)", "Connection: close"] + headers).joined(separator: "\r\n") + "\r\n\r\n")
    }

    static func error(_ body: String) -> String? {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["error"] as? String
    }

    @Test func withoutATokenOnlyLoopbackNamesAreAnswered() async throws {
        let fixture = try await WebFixture.record(.sqlite)
        try await ViewerAPITests.viewer(fixture.store).test(.live) { client in
            let port = try #require(client.port)
            for host in ["localhost:\(port)", "127.0.0.1:\(port)", "[::1]:\(port)", "LOCALHOST", "app.localhost:\(port)", "127.0.0.2"] {
                #expect(try Self.get(port: port, "/api/sessions", host: host).status == 200, "\(host)")
            }
            // A page of evil.example that made its name resolve to 127.0.0.1 reads nothing.
            for host in ["evil.example:28081", "127.0.0.1.evil.example", "localhost.evil.example", "10.0.0.1"] {
                let api = try Self.get(port: port, "/api/sessions", host: host)
                #expect(api.status == 421, "\(host)")
                #expect(Self.error(api.body)?.hasPrefix("this viewer answers only to localhost, 127.0.0.1 or [::1], not to '\(host)'") == true, "\(api.body)")
                #expect(!api.body.contains("127.0.0.1:4000"), "no data")
                let page = try Self.get(port: port, "/sessions/\(fixture.hostile)", host: host)
                #expect(page.status == 421 && page.body.contains("this viewer answers only to localhost"), "\(page.body)")
            }
            let events = try Self.get(port: port, "/api/events", host: "evil.example")
            #expect(events.status == 421)
        }
        // With a token the token decides, whatever the name.
        try await ViewerAPITests.viewer(fixture.store, token: Self.token).test(.live) { client in
            let port = try #require(client.port)
            #expect(try Self.get(port: port, "/api/sessions", host: "viewer.example", headers: ["Authorization: Bearer \(Self.token)"]).status == 200)
        }
    }

    @Test func tokensAreLongPlainAndTakenInAnySpellingOfBearer() async throws {
        #expect(throws: WebViewerError.tokenTooShort(length: 1)) { try WebViewerSettings(host: "0.0.0.0", token: "x").validate() }
        #expect(throws: WebViewerError.tokenCharacters) { try WebViewerSettings(host: "0.0.0.0", token: "   ").validate() }
        #expect(throws: WebViewerError.tokenCharacters) { try WebViewerSettings(host: "0.0.0.0", token: "abcdefghijklmnop; Domain=x").validate() }
        #expect(throws: WebViewerError.tokenRequired(host: "0.0.0.0")) { try WebViewerSettings(host: "0.0.0.0", token: "").validate() }
        try WebViewerSettings(host: "0.0.0.0", token: Self.token).validate()
        try WebViewerSettings(host: "127.0.0.1").validate()

        let fixture = try await WebFixture.record(.sqlite)
        try await ViewerAPITests.viewer(fixture.store, token: Self.token).test(.live) { client in
            for scheme in ["Bearer", "bearer", "BEARER"] {
                let response = try await client.execute(uri: "/api/sessions", method: .get, headers: [.authorization: "\(scheme) \(Self.token)"])
                #expect(response.status == .ok, "\(scheme)")
            }
            #expect(try await client.execute(uri: "/api/sessions", method: .get, headers: [.authorization: "Basic \(Self.token)"]).status == .unauthorized)
            // The address without the token stays on this site, however many slashes lead it.
            let port = try #require(client.port)
            for path in ["//evil.example/", "///evil.example/x", "/\\evil.example/"] {
                let visit = try Self.get(port: port, "\(path)?token=\(Self.token)&kind=server", host: "localhost")
                #expect(visit.status == 303, "\(path)")
                let location = try #require(visit.headers["location"])
                #expect(location.hasPrefix("/") && !location.hasPrefix("//") && !location.hasPrefix("/\\"), "\(path) → \(location)")
                #expect(location.hasSuffix("evil.example/?kind=server") || location.hasSuffix("evil.example/x?kind=server"), "\(location)")
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func aPageOfLargeMessagesIsBoundedAndEachMessageWholeOnItsOwn(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory("wirelog-web")
        let location = try backend.freshStore(in: dir, name: "large")
        let started = WallClock.nowMicros()
        let size = 8 * 1024, count = 300
        let messages = (1...count).map { (seq: Int) -> RecordedMessage in
            let sender: Sender = seq % 2 == 1 ? .client : .server
            let letter = UInt8(ascii: "a") + UInt8(seq % 26)
            return RecordedMessage(seq: Int64(seq), atMicros: started + Int64(seq), sender: sender, raw: [UInt8](repeating: letter, count: size))
        }
        let info = SessionInfo(kind: .proxy, decoding: .raw, clientHost: "127.0.0.1", clientPort: 4000,
                               serverHost: "127.0.0.1", serverPort: 7070, startedMicros: started)
        let end = SessionEnd(atMicros: started + 1_000, reason: .clientClosed, bytesFromClient: Int64(size * count / 2),
                             bytesFromServer: Int64(size * count / 2), messageCount: Int64(count))
        let id = try #require(try await location.withStore(.create) { try await $0.write([(CompleteSession(info: info, end: end, messages: messages), nil)]) }.first ?? nil)

        try await ViewerAPITests.viewer(location).test(.live) { client in
            let response = try await client.execute(uri: "/api/sessions/\(id)/messages?limit=2000", method: .get)
            #expect(response.status == .ok)
            let page = try ViewerAPITests.json(response)
            let shown = try #require(page["messages"] as? [[String: Any]])
            // 256 KiB of shown bytes: 64 messages of their first 4 KiB each, then `next`.
            let perPage = SessionsAPI.pageBytes / MessageView.cutBytes
            #expect(shown.count == perPage)
            #expect(page["next"] as? Int64 == shown.last?["id"] as? Int64)
            #expect(shown.allSatisfy { $0["cut"] as? Bool == true && $0["size"] as? Int == size })
            let raws = shown.compactMap { ($0["raw"] as? String).flatMap { Data(base64Encoded: $0) } }
            #expect(raws.count == perPage && raws.allSatisfy { $0.count == MessageView.cutBytes })
            // Text, hex and base64 of what is shown; the whole messages' base64 alone would be 3.3 MB.
            #expect(response.body.readableBytes < SessionsAPI.pageBytes * 12, "\(response.body.readableBytes) bytes")

            // The next page goes on from there.
            let next = try #require(page["next"] as? Int64)
            let following = try ViewerAPITests.json(try await client.execute(uri: "/api/sessions/\(id)/messages?limit=2000&after=\(next)", method: .get))
            #expect(((following["messages"] as? [[String: Any]])?.first?["id"] as? Int64 ?? 0) > next)

            // One direction over several reads of the store: every other message, in order.
            let replies = try ViewerAPITests.json(try await client.execute(uri: "/api/sessions/\(id)/messages?sender=server&limit=30", method: .get))
            let seqs = try #require(replies["messages"] as? [[String: Any]]).compactMap { $0["seq"] as? Int64 }
            #expect(seqs == Array(stride(from: 2, through: 60, by: 2)))

            // A session page catching up on all of it is told to reload (a page) instead.
            let catchUp = try LiveEventsTests.watch(port: try #require(client.port), "/api/events?session=\(id)", lastEventID: "0")
            #expect(LiveEventsTests.beforeHello(catchUp).map(\.name) == ["reset", "hello"])

            let messageID = try #require(shown.first?["id"] as? Int64)
            let whole = try ViewerAPITests.json(try await client.execute(uri: "/api/sessions/\(id)/messages/\(messageID)", method: .get))
            #expect((whole["raw"] as? String).flatMap { Data(base64Encoded: $0) }?.count == size)
            #expect(whole["cut"] as? Bool == false)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func badIdsAndAddressesAnswerWithTheRightWordsAsJSON(_ backend: TestBackend) async throws {
        let fixture = try await WebFixture.record(backend)
        try await ViewerAPITests.viewer(fixture.store).test(.live) { client in
            func error(_ uri: String) async throws -> (HTTPResponse.Status, String?) {
                let response = try await client.execute(uri: uri, method: .get)
                return (response.status, try ViewerAPITests.json(response)["error"] as? String)
            }
            #expect(try await error("/api/events?session=..%2f") == (.badRequest, "session must be a session id, not '../'"))
            #expect(try await error("/api/sessions/\(fixture.hostile)/messages?after=x") == (.badRequest, "after must be a message id, not 'x'"))
            let (status, message) = try await error("/api/sessions/\(fixture.hostile)/messages/..%2f1")
            #expect(status == .badRequest && message?.hasSuffix("is not a message id") == true, "\(message ?? "")")
            #expect(try await error("/api/events?session=99999") == (.notFound, RecordingError.noSuchSession(99999).description))
            let negative = try await error("/api/events?session=\(fixture.hostile)&last_event_id=-5")
            #expect(negative == (.badRequest, "the last event id (Last-Event-ID or last_event_id) must be a message id, not '-5'"))
            let list = try await error("/api/events?last_event_id=yesterday")
            #expect(list.0 == .badRequest && list.1?.contains("a position this viewer sent") == true)

            // An address too long for the parser still gets the JSON error, and the server goes on.
            let port = try #require(client.port)
            let huge = try Self.get(port: port, "/api/sessions?q=" + String(repeating: "x", count: 100_000), host: "localhost")
            #expect(huge.status == 400)
            #expect(Self.error(huge.body) == "the request's address and headers are longer than the 80 KiB this viewer reads", "\(huge.body)")
            #expect(huge.headers["content-security-policy"] == SecurityHeaders.contentSecurityPolicy)
            #expect(try await client.execute(uri: "/api/sessions", method: .get).status == .ok)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func theRecorderAndTLSFactsAreEscapedAsTheCLIPrintsThem(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory("wirelog-web")
        let location = try backend.freshStore(in: dir, name: "tls")
        let started = WallClock.nowMicros()
        let recorder = "lab\u{202E}1\u{1B}[31m\u{07}"
        let tls = TLSDetails(client: TLSLeg(version: "TLSv1.3", cipherSuite: "TLS_AES_128_GCM_SHA256", sni: "a.example\u{1B}[2J"),
                             server: TLSLeg(version: "TLSv1.2", peerSubject: "CN=upstream"))
        let info = SessionInfo(kind: .proxy, decoding: .raw, recorder: recorder, clientHost: "127.0.0.1", clientPort: 4000,
                               serverHost: "127.0.0.1", serverPort: 7070, startedMicros: started, tls: tls)
        let end = SessionEnd(atMicros: started + 1_000, reason: .clientClosed, bytesFromClient: 0, bytesFromServer: 0, messageCount: 0)
        let id = try #require(try await location.withStore(.create) { try await $0.write([(CompleteSession(info: info, end: end, messages: []), nil)]) }.first ?? nil)
        try await ViewerAPITests.viewer(location).test(.live) { client in
            let session = try ViewerAPITests.json(try await client.execute(uri: "/api/sessions/\(id)", method: .get))
            #expect(session["recorder_text"] as? String == "lab\\xe2\\x80\\xae1\\x1b[31m\\x07")
            #expect(session["tls_text"] as? [String] == [
                "TLS client ↔ wirelog: TLSv1.3 TLS_AES_128_GCM_SHA256, SNI a.example\\x1b[2J",
                "TLS wirelog ↔ server: TLSv1.2, peer CN=upstream",
            ])
            let listed = try ViewerAPITests.json(try await client.execute(uri: "/api/sessions", method: .get))
            #expect((listed["sessions"] as? [[String: Any]])?.first?["recorder_text"] as? String == session["recorder_text"] as? String)
        }
    }
}
