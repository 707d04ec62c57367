import Backends
import Foundation
import Testing
import TestSupport

/// `--metrics` on a running proxy, scraped over real loopback sockets, checked against the store.
@Suite struct MetricsTests {
    /// A known load through the proxy: what /metrics counts is what the store holds.
    @Test(arguments: TestBackend.allCases)
    func countersMatchTheStore(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let database = try backend.freshStore(in: directory)
        let upstream = try TestListener()
        let proxy = try WirelogProcess.proxy(to: upstream, database: database.argument,
                                             ["--decode", "raw", "--metrics", "127.0.0.1:0"])
        let port = try proxy.listeningPort()
        let metrics = try proxy.metricsPort()

        let connections = 3
        let request = randomBytes(10_000, seed: 1), reply = randomBytes(25_000, seed: 2)
        for _ in 0..<connections {
            let client = try TestSocket.connect(port: port)
            let server = try await onThread { try upstream.accept() }
            try client.send(request)
            #expect(try await onThread { try server.receive(exactly: request.count) } == request)
            try server.send(reply)
            #expect(try await onThread { try client.receive(exactly: reply.count) } == reply)
            client.close()
            server.close()
        }
        let exposition = try proxy.scrape(port: metrics) {
            $0.total("wirelog_sessions_ended_total") == Double(connections) && $0["wirelog_recorder_queue_records{store=\"\(backend)\"}"] == 0
                && $0["wirelog_recorder_oldest_unacknowledged_seconds{store=\"\(backend)\"}"] == 0
        }
        #expect(exposition.total("wirelog_sessions_ended_total") == Double(connections))
        #expect(exposition["wirelog_connections_accepted_total{listener=\"proxy\"}"] == Double(connections))
        #expect(exposition["wirelog_connections_open{listener=\"proxy\"}"] == 0)
        #expect(exposition["wirelog_wire_bytes_total{sender=\"client\"}"] == Double(connections * request.count))
        #expect(exposition["wirelog_wire_bytes_total{sender=\"server\"}"] == Double(connections * reply.count))
        #expect(exposition["wirelog_store_ready{store=\"\(backend)\"}"] == 1)
        #expect(exposition["process_resident_memory_bytes"] > Double(1 << 20))
        #expect(exposition["process_open_fds"] > 0)
        #expect(exposition.text.contains("wirelog_recorder_commit_duration_seconds_bucket{store=\"\(backend)\""))

        let sessions = try await RecordedRows.sessions(database)
        #expect(sessions.count == connections)
        #expect(Double(sessions.map(\.bytesFromClient).reduce(0, +)) == exposition["wirelog_wire_bytes_total{sender=\"client\"}"])
        #expect(Double(sessions.map(\.bytesFromServer).reduce(0, +)) == exposition["wirelog_wire_bytes_total{sender=\"server\"}"])
        let messages = sessions.map(\.messageCount).reduce(0, +)
        #expect(Double(messages) == exposition.total("wirelog_messages_total"))
        // Raw decoding: every message is bytes as read; all of them, and nothing else, were committed.
        #expect(exposition["wirelog_recorder_bytes_total{store=\"\(backend)\"}"] == Double(connections * (request.count + reply.count)))
        // Each session: its start, its messages, its end.
        #expect(exposition["wirelog_recorder_records_total{store=\"\(backend)\"}"] == Double(messages + 2 * Int64(connections)))
        #expect(exposition["wirelog_storage_errors_total{store=\"\(backend)\"}"] == 0)

        #expect(try HTTPReply.get(port: metrics, "/healthz").status == 200)
        #expect(try HTTPReply.get(port: metrics, "/readyz").status == 200)
        try promtoolAccepts(exposition.text, in: directory)
        proxy.signal(SIGTERM)
        #expect(try proxy.wait().failure == nil)
    }

    /// `promtool check metrics` (Debian's prometheus package; scripts/test installs it).
    private func promtoolAccepts(_ exposition: String, in directory: TemporaryDirectory) throws {
        let file = directory.file("exposition.txt")
        try exposition.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try WirelogProcess(["-c", "promtool check metrics < \(file)"], executable: "/bin/sh").wait()
        #expect(result.failure == nil, "promtool: \(result.stdoutText)")
    }

    /// /readyz says 503 and why while PostgreSQL cannot be reached, idle or not, and 200 once it is back.
    @Test func readinessFollowsPostgreSQL() async throws {
        var url = URLComponents(string: try TestPostgres.freshDatabaseURL())!
        let relay = try Relay(to: url.port!)
        url.port = relay.port
        url.host = "127.0.0.1"
        let upstream = try TestListener()
        let proxy = try WirelogProcess.proxy(to: upstream, database: url.string!, ["--metrics", "127.0.0.1:0"])
        _ = try proxy.listeningPort()
        let metrics = try proxy.metricsPort()
        #expect(try waitForReadiness(port: metrics, status: 200).status == 200)

        relay.down()
        let away = try waitForReadiness(port: metrics, status: 503)
        #expect(away.status == 503)
        #expect(away.body.contains("the store refuses commits"))
        #expect(!away.body.contains("password"))

        relay.up()
        #expect(try waitForReadiness(port: metrics, status: 200).status == 200)
        proxy.signal(SIGTERM)
        _ = try proxy.wait()
    }

    /// Asks /readyz until it answers `status` (the recorder sees a server go within its probe's
    /// time) or 30 s pass; the last answer.
    private func waitForReadiness(port: Int, status: Int) throws -> HTTPReply {
        let deadline = Date().addingTimeInterval(30)
        while true {
            let reply = try HTTPReply.get(port: port, "/readyz")
            if reply.status == status || Date() > deadline { return reply }
        }
    }

    private static let token = "0123456789abcdef0123456789abcdef"

    /// Off loopback the listener needs the token; with one, every request must carry it.
    @Test func theTokenGuardsTheListener() async throws {
        let directory = TemporaryDirectory()
        let refused = try WirelogProcess.run([
            "serve", "--listen", "127.0.0.1:0", "--db", directory.file("t.sqlite"), "--metrics", "0.0.0.0:0",
        ], environment: ["WIRELOG_WEB_TOKEN": ""])
        #expect(refused.status != 0)
        #expect(refused.stderrText.contains("--metrics on 0.0.0.0 would be read by every machine"))

        let serve = try WirelogProcess([
            "serve", "--listen", "127.0.0.1:0", "--db", directory.file("t.sqlite"), "--metrics", "127.0.0.1:0",
            "--token", Self.token,
        ])
        _ = try serve.listeningPort()
        let metrics = try serve.metricsPort()
        #expect(try HTTPReply.get(port: metrics, "/metrics").status == 401)
        let scraped = try HTTPReply.get(port: metrics, "/metrics", token: Self.token)
        #expect(scraped.status == 200)
        #expect(scraped.body.contains("# HELP wirelog_connections_accepted_total"))
        serve.signal(SIGTERM)
        #expect(try serve.wait().failure == nil)
    }

    /// `--web` with `--metrics`: the viewer's listener serves /metrics too.
    @Test func theViewerServesMetricsToo() async throws {
        let directory = TemporaryDirectory()
        let serve = try WirelogProcess([
            "serve", "--listen", "127.0.0.1:0", "--db", directory.file("w.sqlite"), "--metrics", "127.0.0.1:0",
            "--web", "127.0.0.1:0",
        ])
        _ = try serve.listeningPort()
        let log = try serve.waitForStderr(containing: "web viewer on http://")
        let pattern = #"web viewer on http://127\.0\.0\.1:(\d+)/"#
        let line = String(log[log.range(of: pattern, options: .regularExpression)!])
        let web = Int(line.dropLast().split(separator: ":").last!)!
        #expect(try HTTPReply.get(port: web, "/metrics").body.contains("wirelog_connections_open"))
        #expect(try HTTPReply.get(port: web, "/readyz").status == 200)
        serve.signal(SIGTERM)
        #expect(try serve.wait().failure == nil)
    }
}
