import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport
@testable import WebViewer

/// The event stream over real HTTP, read with curl (the test client waits for whole bodies).
@Suite(.serialized) struct LiveEventsTests {
    /// What curl reads from `uri` in `seconds`, while `during` runs.
    static func stream(port: Int, _ uri: String, headers: [String] = [], seconds: Int,
                       during: () async throws -> Void = {}) async throws -> String {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-sN", "--max-time", String(seconds)] + headers.flatMap { ["-H", $0] } + ["http://127.0.0.1:\(port)\(uri)"]
        let output = Pipe()
        curl.standardOutput = output
        try curl.run()
        try await Task.sleep(for: .seconds(1))
        try await during()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func aSessionRecordedWhileWatchingArrivesAsAnEvent() async throws {
        let fixture = try await WebFixture.record()
        try await ViewerAPITests.viewer(fixture.path).test(.live) { client in
            let port = try #require(client.port)
            let events = try await Self.stream(port: port, "/api/events?kind=server", seconds: 5) {
                let server = try await TestServer.start(databasePath: fixture.path)
                try await WebFixture.converse(port: server.port, ["HELO\n", "DATA live\n"])
                try await Task.sleep(for: .seconds(1))
                await server.stop()
            }
            #expect(events.contains("event: hello"))
            #expect(events.contains("event: session"), "\(events)")
            #expect(events.contains("\"id\":\(fixture.replay + 1)"), "\(events)")

            let detail = try await Self.stream(port: port, "/api/events?session=\(fixture.replay + 1)", headers: ["Last-Event-ID: 0"], seconds: 2)
            #expect(detail.contains("event: message"), "catch-up after Last-Event-ID: \(detail)")
            #expect(detail.contains("DATA live\\\\n"), "\(detail)")
        }
    }

    @Test func badFiltersAreRefusedBeforeTheStreamStarts() async throws {
        let fixture = try await WebFixture.record()
        try await ViewerAPITests.viewer(fixture.path).test(.live) { client in
            let response = try await client.execute(uri: "/api/events?reason=gone", method: .get)
            #expect(response.status == .badRequest)
        }
    }
}
