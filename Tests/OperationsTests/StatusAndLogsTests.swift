import Backends
import Foundation
import Logging
import Operations
import NIOConcurrencyHelpers
import Telemetry
import Testing
import TestSupport

/// `wirelog status` on both backends, and `--log-format json`.
@Suite struct StatusAndLogsTests {
    @Test(arguments: TestBackend.allCases)
    func statusShowsWhatTheStoreHoldsAndWhoRecords(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let database = try backend.freshStore(in: directory)
        let upstream = try TestListener()
        let proxy = try WirelogProcess.proxy(to: upstream, database: database.argument, ["--recorder-name", "status-test"])
        let port = try proxy.listeningPort()
        for _ in 0..<2 {
            let client = try TestSocket.connect(port: port)
            let server = try await onThread { try upstream.accept() }
            try client.send(Array("ping\n".utf8))
            _ = try await onThread { try server.receive(exactly: 5) }
            client.close()
            server.close()
        }
        // One session left open, the recorder's until it stops (the proxy starts recording it at
        // its first bytes, which tell the protocol).
        let open = try TestSocket.connect(port: port)
        let openServer = try await onThread { try upstream.accept() }
        try open.send(Array("ping\n".utf8))
        _ = try await onThread { try openServer.receive(exactly: 5) }

        let deadline = Date().addingTimeInterval(30)
        var status: [String: Any] = [:]
        repeat {
            status = try statusJSON(database)
        } while (status["sessions"] as? Int != 3 || status["open_sessions"] as? Int != 1) && Date() < deadline
        #expect(status["kind"] as? String == backend.rawValue)
        #expect(status["sessions"] as? Int == 3)
        #expect(status["open_sessions"] as? Int == 1)
        #expect((status["schema_version"] as? Int ?? 0) > 0)
        #expect((status["bytes_on_disk"] as? Int ?? 0) > 0)
        #expect((status["oldest_started_micros"] as? Int ?? .max) <= (status["newest_started_micros"] as? Int ?? 0))
        let recorders = status["recorders"] as? [[String: Any]] ?? []
        #expect(recorders.count == 1)
        #expect(recorders.first?["name"] as? String == "status-test")
        #expect(recorders.first?["open_sessions"] as? Int == 1)

        let text = try WirelogProcess.run(["status", "--db", database.argument])
        #expect(text.failure == nil)
        #expect(text.stdoutText.contains("store      \(backend.rawValue) at "))
        #expect(text.stdoutText.contains("sessions   3, 1 open"))
        #expect(text.stdoutText.contains("recorder   status-test: 1 open session"))

        open.close()
        openServer.close()
        proxy.signal(SIGTERM)
        #expect(try proxy.wait().failure == nil)
        #expect(try statusJSON(database)["open_sessions"] as? Int == 0)
    }

    private func statusJSON(_ database: StoreLocation) throws -> [String: Any] {
        let result = try WirelogProcess.run(["status", "--db", database.argument, "--json"])
        #expect(result.failure == nil)
        return try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any] ?? [:]
    }

    @Test func statusOfAMissingFileSaysSoInOneLine() throws {
        let directory = TemporaryDirectory()
        let result = try WirelogProcess.run(["status", "--db", directory.file("none.sqlite")])
        #expect(result.status == 2)
        #expect(result.stderrText.split(separator: "\n").count == 1)
    }

    /// Every line on standard error is one JSON object with the five fields.
    @Test func jsonLogLinesParse() throws {
        let directory = TemporaryDirectory()
        let serve = try WirelogProcess([
            "serve", "--listen", "127.0.0.1:0", "--db", directory.file("l.sqlite"), "--log-format", "json",
        ])
        _ = try serve.listeningPort()
        serve.signal(SIGTERM)
        let result = try serve.wait()
        #expect(result.failure == nil)
        let lines = result.stderrText.split(separator: "\n")
        #expect(lines.count >= 3)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["label"] as? String == "wirelog.serve", "\(line)")
            #expect(["info", "notice"].contains(object?["level"] as? String), "\(line)")
            #expect((object?["time"] as? String)?.hasSuffix("Z") == true, "\(line)")
            #expect(object?["message"] is String, "\(line)")
        }
        #expect(lines.contains { $0.contains("wirelog serve listening on 127.0.0.1:") })
    }
}

/// docs/OPERATIONS.md lists every metric the catalogue exports.
@Suite struct OperationsDocsTests {
    @Test func everyMetricIsDocumented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let docs = try String(contentsOf: root.appendingPathComponent("docs/OPERATIONS.md"), encoding: .utf8)
        for metric in WirelogMetrics.all {
            #expect(docs.contains("| `\(metric.name)` |"), "\(metric.name) is not in docs/OPERATIONS.md")
        }
    }
}

@Suite struct VersionTests {
    /// The version, the commit built (this checkout's) and the SQLite library in use.
    @Test func versionNamesTheCommitAndSQLite() throws {
        let result = try WirelogProcess.run(["--version"])
        #expect(result.failure == nil)
        let pattern = #"^wirelog \d+\.\d+\.\d+ \(commit [0-9a-f]{12}\), SQLite 3\.\d+\.\d+\n$"#
        #expect(result.stdoutText.range(of: pattern, options: .regularExpression) != nil, "\(result.stdoutText)")
    }
}

@Suite struct JSONLogHandlerTests {
    /// Metadata, nested and with characters JSON must escape, comes back as it went in.
    @Test func metadataSurvivesTheRoundTrip() throws {
        let lines = Lines()
        var logger = Logger(label: "wirelog.test") { JSONLogHandler(label: $0, write: lines.append) }
        logger[metadataKey: "session"] = "42"
        logger.warning("a \"quoted\"\nline", metadata: ["peer": ["host": "::1", "ports": ["1", "2"]]])
        let written = lines.all
        #expect(written.count == 1)
        #expect(written.first?.hasSuffix("}\n") == true)
        let object = try JSONSerialization.jsonObject(with: Data((written.first ?? "").utf8)) as? [String: Any]
        #expect(object?["level"] as? String == "warning")
        #expect(object?["message"] as? String == "a \"quoted\"\nline")
        let metadata = object?["metadata"] as? [String: Any]
        #expect(metadata?["session"] as? String == "42")
        let peer = metadata?["peer"] as? [String: Any]
        #expect(peer?["host"] as? String == "::1")
        #expect(peer?["ports"] as? [String] == ["1", "2"])
    }
}

private final class Lines: Sendable {
    private let lines = NIOLockedValueBox<[String]>([])
    var all: [String] { lines.withLockedValue { $0 } }
    func append(_ line: String) { lines.withLockedValue { $0.append(line) } }
}
