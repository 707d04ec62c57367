import Backends
import Client
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport
@testable import WebViewer

/// The event stream over real HTTP, read with curl as it arrives (the test client waits for whole
/// bodies), on both backends.
@Suite(.serialized) struct LiveEventsTests {
    /// curl reading `uri`'s events until it is stopped; waits until the stream has said hello.
    static func watch(port: Int, _ uri: String, lastEventID: String? = nil) throws -> WirelogProcess {
        let header = lastEventID.map { ["-H", "Last-Event-ID: \($0)"] } ?? []
        let curl = try WirelogProcess(["-sN", "--max-time", "60"] + header + ["http://127.0.0.1:\(port)\(uri)"], executable: "/usr/bin/curl")
        try curl.waitForStdout(containing: "event: hello")
        return curl
    }

    /// The events of a stream so far: (id, name, data as JSON).
    static func events(_ text: String) -> [(id: String?, name: String, data: [String: Any])] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var id: String?, name: String?, data: [String: Any] = [:]
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") {
                    data = (try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8))) as? [String: Any] ?? [:]
                }
            }
            return name.map { (id, $0, data) }
        }
    }

    /// Waits until `curl` has sent a session event for `id` that satisfies `done`; returns it.
    @discardableResult
    static func waitForSession(_ curl: WirelogProcess, _ id: Int64? = nil, _ what: String,
                               _ done: @escaping ([String: Any]) -> Bool = { _ in true }) throws -> [String: Any] {
        func found(_ text: String) -> [String: Any]? {
            events(text).first { $0.name == "session" && (id == nil || $0.data["id"] as? Int64 == id) && done($0.data) }?.data
        }
        return try #require(found(try curl.waitForStdout(what) { found($0) != nil }))
    }

    /// The events up to and including the hello: what the stream sent before it went live.
    static func beforeHello(_ curl: WirelogProcess) -> [(id: String?, name: String, data: [String: Any])] {
        let all = events(curl.stdoutText)
        return Array(all.prefix { $0.name != "hello" } + all.drop { $0.name != "hello" }.prefix(1))
    }

    @Test(arguments: TestBackend.allCases)
    func aSessionRecordedWhileWatchingArrivesAndEnds(_ backend: TestBackend) async throws {
        let fixture = try await WebFixture.record(backend)
        try await ViewerAPITests.viewer(fixture.store).test(.live) { client in
            let port = try #require(client.port)
            let list = try Self.watch(port: port, "/api/events?kind=server")
            let server = try await TestServer.start(store: fixture.store)
            let connection = try await WebFixture.connect(port: server.port, ["HELO\n", "DATA live\n"])
            let live = try Self.waitForSession(list, nil, "the new session with 4 messages") { $0["message_count"] as? Int64 == 4 }
            let id = try #require(live["id"] as? Int64)
            #expect(id > fixture.replay)
            #expect(!(live["end_reason"] is String), "open")

            // A page that reconnects to the session after its first message gets the rest.
            let firstID = try await fixture.store.withStore(.read) { try await $0.messages(ofSession: id, after: 0, limit: 1).first?.id }
            let detail = try Self.watch(port: port, "/api/events?session=\(id)", lastEventID: try #require(firstID).description)
            let caughtUp = Self.beforeHello(detail)
            #expect(caughtUp.map(\.name) == ["session", "message", "message", "message", "hello"], "\(caughtUp)")
            #expect(caughtUp.compactMap { $0.data["text"] as? String } == ["100 OK\\n", "DATA live\\n", "300 DRCV\\n"])

            try await connection.send(Array("QUIT\n".utf8))
            _ = try await connection.readReply()
            await connection.close()
            // The end reaches both: the list's session event and the session's own, after its last messages.
            try Self.waitForSession(list, id, "the session's end") { $0["end_reason"] as? String == "quit" }
            try Self.waitForSession(detail, id, "the session's end") { $0["end_reason"] as? String == "quit" }
            let texts = Self.events(detail.stdoutText).filter { $0.name == "message" }.compactMap { $0.data["text"] as? String }
            #expect(texts == ["100 OK\\n", "DATA live\\n", "300 DRCV\\n", "QUIT\\n", "200 BYE\\n"])
            await server.stop()
        }
    }

    /// A list that was away gets, on reconnecting with its last event id, the sessions it missed,
    /// before its hello: on PostgreSQL too, where two recorders commit message ids out of order.
    @Test(arguments: TestBackend.allCases)
    func aListThatReconnectsCatchesUpOnSessionsOfEveryRecorder(_ backend: TestBackend) async throws {
        let fixture = try await WebFixture.record(backend)
        try await ViewerAPITests.viewer(fixture.store).test(.live) { client in
            let port = try #require(client.port)
            let away = try Self.watch(port: port, "/api/events")
            let position = try #require(Self.events(away.stdoutText).first { $0.name == "hello" }?.id)
            away.signal(SIGKILL)
            _ = try away.wait()

            // Another page stays: once it has seen both sessions end, the viewer has too.
            let staying = try Self.watch(port: port, "/api/events")
            let first = try await TestServer.start(store: fixture.store)
            let second = try await TestServer.start(store: fixture.store)
            let a = try await WebFixture.connect(port: first.port, ["HELO\n"])
            let b = try await WebFixture.connect(port: second.port, ["HELO\n", "DATA b\n"])
            for connection in [a, b] {
                for command in connection === a ? ["DATA a\n", "QUIT\n"] : ["QUIT\n"] {
                    try await connection.send(Array(command.utf8))
                    _ = try await connection.readReply()
                }
                await connection.close()
            }
            await first.stop()
            await second.stop()
            let ids = try await RecordedRows.sessions(fixture.store).map(\.id).filter { $0 > fixture.replay }
            #expect(ids.count == 2)
            for id in ids {
                try Self.waitForSession(staying, id, "session \(id) ended") { $0["end_reason"] as? String == "quit" }
            }

            let back = try Self.watch(port: port, "/api/events", lastEventID: position)
            let caughtUp = Self.beforeHello(back)
            for id in ids {
                let sessions = caughtUp.filter { $0.name == "session" && $0.data["id"] as? Int64 == id }.map(\.data)
                #expect(sessions.count == 1, "session \(id): \(caughtUp.map(\.name))")
                #expect(sessions.first?["end_reason"] as? String == "quit")
                #expect(sessions.first?["message_count"] as? Int64 == 6)
            }

            // A position from another viewer (or one restarted) cannot be caught up from: reset.
            let stranger = try Self.watch(port: port, "/api/events", lastEventID: "elsewhere-3")
            #expect(Self.beforeHello(stranger).map(\.name) == ["reset", "hello"])
        }
    }

    @Test(arguments: TestBackend.allCases)
    func badFiltersAreRefusedBeforeTheStreamStarts(_ backend: TestBackend) async throws {
        let fixture = try await WebFixture.record(backend)
        try await ViewerAPITests.viewer(fixture.store).test(.live) { client in
            let response = try await client.execute(uri: "/api/events?reason=gone", method: .get)
            #expect(response.status == .badRequest)
        }
    }
}
