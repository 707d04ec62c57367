import Foundation
import Testing
import TestSupport

/// Programs nobody here wrote, through toxics: each toxic's effect seen on the wire. Times are
/// only lower bounds (a toxic cannot make anything faster); exactness is benchmarks/faults.sh's.
@Suite struct RealClientsThroughToxicsTests {
    private func elapsed(_ body: () throws -> Void) rethrows -> TimeInterval {
        let start = Date()
        try body()
        return Date().timeIntervalSince(start)
    }

    /// A proxy `pg` in front of the suite's PostgreSQL with `toxic`; its port.
    private func postgresProxy(_ lab: FaultLab, toxic: String) throws -> Int {
        let postgres = try TestPostgres.serverAddress()
        let made = try lab.api("POST", "/proxies", #"{"name":"pg","listen":"127.0.0.1:0","upstream":"127.0.0.1:\#(postgres.port)"}"#)
        #expect(try lab.api("POST", "/proxies/pg/toxics", toxic).status == 200)
        return try FaultLab.port(made.body)
    }

    /// psql through the proxy on `port` to the suite's PostgreSQL, errors with their SQLSTATE.
    private func psql(_ port: Int, _ sql: String) throws -> ProcessResult {
        let user = URLComponents(string: ProcessInfo.processInfo.environment[TestPostgres.urlVariable] ?? "")?.user ?? "postgres"
        return try WirelogProcess(["psql", "-X", "-w", "-qAt", "-v", "VERBOSITY=verbose", "-d",
                                   "postgresql://\(user)@127.0.0.1:\(port)/postgres?sslmode=disable", "-c", sql],
                                  executable: "/usr/bin/env").wait(timeout: 30)
    }

    @Test func redisCLIThroughLatencyThenRespError() async throws {
        let lab = try await FaultLab()
        let port = try lab.redisProxy("redis")
        #expect(try lab.api("POST", "/proxies/redis/toxics", #"{"type":"latency","attributes":{"latency":400}}"#).status == 200)
        var reply = ""
        #expect(try elapsed { reply = try lab.redisCLI(port, "PING") } >= 0.4)
        #expect(reply == "PONG\n")

        // resp_error: every command answered with an error, none forwarded (SET would have stored).
        #expect(try lab.api("POST", "/reset").status == 204)
        #expect(try lab.api("POST", "/proxies/redis/toxics", #"{"type":"resp_error","stream":"upstream"}"#).status == 200)
        #expect(try lab.redisCLI(port, "SET", "k", "v") == "ERR wirelog fault\n\n")
        #expect(try lab.redisCLI(port, "-r", "3", "PING") == String(repeating: "ERR wirelog fault\n\n", count: 3))
        #expect(try lab.redisCLI(lab.redisPort, "EXISTS", "k") == "0\n")
        #expect(try lab.stop().failure == nil)
    }

    @Test func curlThroughBandwidthAndLimitData() async throws {
        let lab = try await FaultLab()
        let site = lab.directory.file("site")
        try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
        let body = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try body.write(to: URL(fileURLWithPath: site + "/blob.bin"))
        let httpPort = try freePort()
        let server = try Program("python3", ["-m", "http.server", String(httpPort), "--bind", "127.0.0.1", "--directory", site])
        defer { server.stop() }
        try await waitUntilListening(port: httpPort)
        let made = try lab.api("POST", "/proxies", #"{"name":"web","listen":"127.0.0.1:0","upstream":"127.0.0.1:\#(httpPort)"}"#)
        let port = try FaultLab.port(made.body)
        let url = "http://127.0.0.1:\(port)/blob.bin"
        let output = lab.directory.file("fetched.bin")

        // 1,000 KB/s: 300 kB take at least 0.3 s, and arrive whole.
        #expect(try lab.api("POST", "/proxies/web/toxics", #"{"type":"bandwidth","attributes":{"rate":1000}}"#).status == 200)
        let took = try elapsed { _ = try Program.run("curl", ["-sS", "--max-time", "20", "-o", output, url]) }
        #expect(took >= 0.3)
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == body)

        // limit_data: exactly 1,000 bytes of the reply, then the connection closes.
        #expect(try lab.api("DELETE", "/proxies/web/toxics/bandwidth_downstream").status == 204)
        #expect(try lab.api("POST", "/proxies/web/toxics", #"{"type":"limit_data","attributes":{"bytes":1000}}"#).status == 200)
        let socket = try TestSocket.connect(port: port)
        defer { socket.close() }
        try socket.send(Array("GET /blob.bin HTTP/1.0\r\nHost: x\r\n\r\n".utf8))
        let received = try socket.receiveAll()
        #expect(received.count == 1_000)
        #expect(String(decoding: received.prefix(12), as: UTF8.self) == "HTTP/1.0 200")
        #expect(throws: (any Error).self) { try Program.run("curl", ["-sS", "--max-time", "20", "-o", output, url]) }

        // http_status, only for paths under /api/: those are answered by the proxy, never forwarded.
        #expect(try lab.api("DELETE", "/proxies/web/toxics/limit_data_downstream").status == 204)
        let answer = try lab.api("POST", "/proxies/web/toxics",
                                 #"{"type":"http_status","stream":"upstream","attributes":{"status":503},"condition":{"path":"/api/*"}}"#)
        #expect(answer.status == 200, "\(answer.body)")
        let refused = try Program.run("curl", ["-sS", "--max-time", "20", "-w", "%{http_code}", "http://127.0.0.1:\(port)/api/blob.bin"])
        #expect(refused == "wirelog fault: 503 Service Unavailable\n503")
        _ = try Program.run("curl", ["-sS", "--max-time", "20", "-o", output, url])
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == body)
        #expect(try lab.stop().failure == nil)
    }

    @Test func redisCLIGetsItsOwnErrorForGETOnlyThenADropAfterTwoExchanges() async throws {
        let lab = try await FaultLab()
        let port = try lab.redisProxy("redis")
        let loading = #"{"type":"resp_error","stream":"upstream","attributes":{"error":"LOADING Redis is loading the dataset in memory"},"#
            + #""condition":{"command":"GET"}}"#
        #expect(try lab.api("POST", "/proxies/redis/toxics", loading).status == 200)
        #expect(try lab.redisCLI(port, "SET", "k", "v") == "OK\n")
        #expect(try lab.redisCLI(port, "GET", "k") == "LOADING Redis is loading the dataset in memory\n\n")

        #expect(try lab.api("POST", "/reset").status == 204)
        #expect(try lab.api("POST", "/proxies/redis/toxics", #"{"type":"drop_after","stream":"upstream","attributes":{"exchanges":2}}"#).status == 200)
        let cli = try WirelogProcess(["redis-cli", "-p", String(port), "-r", "3", "GET", "k"], executable: "/usr/bin/env").wait(timeout: 20)
        #expect(cli.stdoutText == "v\nv\n", "\(cli.stderrText)")
        #expect(!cli.stderrText.isEmpty)
        #expect(try lab.stop().failure == nil)
    }

    @Test func psqlGetsASerializationFailureForUpdatesOnly() async throws {
        let lab = try await FaultLab()
        let port = try postgresProxy(lab, toxic: #"{"type":"pg_error","stream":"upstream","#
            + #""attributes":{"sqlstate":"40001","message":"could not serialize access"},"condition":{"query":"UPDATE*"}}"#)
        let select = try psql(port, "SELECT 41 + 1")
        #expect(select.status == 0 && select.stdoutText == "42\n", "\(select.stderrText)")
        // Never forwarded: the table does not exist, and the server would have said so.
        let update = try psql(port, "update no_such_table set x = 1")
        #expect(update.status != 0)
        #expect(update.stderrText.contains("ERROR:  40001: could not serialize access"), "\(update.stderrText)")
        #expect(try lab.stop().failure == nil)
    }

    @Test func psqlMeetsResetPeer() async throws {
        let lab = try await FaultLab()
        let port = try postgresProxy(lab, toxic: #"{"type":"reset_peer","attributes":{"timeout":0}}"#)
        let refused = try psql(port, "SELECT 1")
        #expect(refused.status != 0)
        #expect(refused.stderrText.contains("reset by peer") || refused.stderrText.contains("closed the connection unexpectedly"), "\(refused.stderrText)")
        #expect(try lab.stop().failure == nil)
    }

    @Test func oneOffFaultsAndAFaultsFile() async throws {
        let directory = TemporaryDirectory()
        let redisPort = try freePort()
        let redis = try Program("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                directory: directory.path)
        defer { redis.stop() }
        try await waitUntilListening(port: redisPort)
        let proxy = try WirelogProcess(["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(redisPort)", "--db", directory.file("a.sqlite"),
                                        "--fault", "latency:latency=300,stream=upstream"])
        let port = try proxy.listeningPort()
        var reply = ""
        #expect(try elapsed { reply = try Program.run("redis-cli", ["-p", String(port), "PING"]) } >= 0.3)
        #expect(reply == "PONG\n")
        proxy.signal(SIGTERM)
        #expect(try proxy.wait().failure == nil)

        let file = directory.file("faults.json")
        try Data(#"[{"name":"slow","upstream":"127.0.0.1:\#(redisPort)","toxics":[{"type":"latency","attributes":{"latency":300}}]}]"#.utf8)
            .write(to: URL(fileURLWithPath: file))
        let lab = try await FaultLab(arguments: ["--faults", file])
        let slow = try lab.api("GET", "/proxies/slow")
        #expect(slow.body.contains(#""toxics":[{"attributes":{"latency":300,"jitter":0},"name":"latency_downstream""#))
        let slowPort = try FaultLab.port(slow.body)
        #expect(try elapsed { _ = try lab.redisCLI(slowPort, "PING") } >= 0.3)
        #expect(try lab.stop().failure == nil)

        let bad = try WirelogProcess.run(["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(redisPort)",
                                          "--db", directory.file("b.sqlite"), "--fault", "latency:latency=-1"])
        #expect(bad.status != 0)
        #expect(bad.stderrText.contains("--fault 'latency:latency=-1': bad request body: latency must not be negative, not -1"))
    }
}
