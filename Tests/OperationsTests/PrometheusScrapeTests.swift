import Foundation
import Testing
import TestSupport

/// A real Prometheus (Debian's `prometheus`, which scripts/test installs) scrapes a running proxy:
/// a PromQL query over what it scraped sees the bytes the test sent.
@Suite struct PrometheusScrapeTests {
    @Test func prometheusSeesTheBytesSent() async throws {
        let directory = TemporaryDirectory()
        let upstream = try TestListener()
        let proxy = try WirelogProcess.proxy(to: upstream, database: directory.file("p.sqlite"), ["--metrics", "127.0.0.1:0"])
        let port = try proxy.listeningPort()
        let metrics = try proxy.metricsPort()

        let request = randomBytes(12_345, seed: 3)
        let client = try TestSocket.connect(port: port)
        let server = try await onThread { try upstream.accept() }
        try client.send(request)
        _ = try await onThread { try server.receive(exactly: request.count) }
        client.close()
        server.close()

        try """
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: wirelog
                static_configs:
                  - targets: ['127.0.0.1:\(metrics)']
            """.write(toFile: directory.file("prometheus.yml"), atomically: true, encoding: .utf8)
        // Prometheus says nothing of a port it picked: reserve one, close it, use it.
        let web = try freePort()
        let prometheus = try WirelogProcess([
            "--config.file=\(directory.file("prometheus.yml"))", "--storage.tsdb.path=\(directory.file("tsdb"))",
            "--web.listen-address=127.0.0.1:\(web)",
        ], executable: "/usr/bin/prometheus")
        try prometheus.waitForStderr(containing: "Server is ready to receive web requests", timeout: 60)

        let deadline = Date().addingTimeInterval(60)
        var seen: Double?
        repeat {
            seen = try clientBytes(prometheusPort: web)
        } while seen != Double(request.count) && Date() < deadline && prometheus.process.isRunning
        #expect(seen == Double(request.count))

        prometheus.signal(SIGTERM)
        _ = try prometheus.wait()
        proxy.signal(SIGTERM)
        #expect(try proxy.wait().failure == nil)
    }

    /// `wirelog_wire_bytes_total{sender="client"}` as Prometheus has it now, if it has it.
    private func clientBytes(prometheusPort: Int) throws -> Double? {
        let reply = try HTTPReply.get(port: prometheusPort, "/api/v1/query?query=wirelog_wire_bytes_total")
        guard reply.status == 200,
              let object = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any],
              let results = (object["data"] as? [String: Any])?["result"] as? [[String: Any]] else { return nil }
        let client = results.first { ($0["metric"] as? [String: String])?["sender"] == "client" }
        return ((client?["value"] as? [Any])?.last as? String).flatMap(Double.init)
    }
}
