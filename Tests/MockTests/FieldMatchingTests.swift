import Backends
import Foundation
import Logging
import Mock
import Proxy
import Recording
import Testing
import TestSupport

/// The mock answering HTTP, RESP and PostgreSQL by what a request asks: real clients recorded
/// through the proxy, then answered by `wirelog mock` with the recorded server gone, changing
/// headers, volatile query parameters and the order of their requests.
@Suite struct FieldMatchingTests {
    /// curl and Python requests: another header, a changed ignored query parameter, parameters
    /// and JSON keys reordered, requests in another order and on new connections; the same request
    /// gets its recorded answers in order, then the last again; a miss is a 501 naming the closest.
    @Test(arguments: TestBackend.allCases)
    func httpClientsAreAnsweredByMethodPathQueryAndJSONBody(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        let server = try await JSONServer.start()
        let recorded = try await Recorder.through(upstreamPort: server.port, store: store) { port in
            let base = "http://127.0.0.1:\(port)"
            return [try curl(["-H", "X-Request-Id: a1", "\(base)/items?id=1&ts=100"]),
                    try curl(["\(base)/items?id=2&ts=101"]),
                    try curl(["-H", "Content-Type: application/json", "-d", #"{"name":"x","qty":2}"#, "\(base)/orders"]),
                    try curl(["\(base)/counter"]),
                    try curl(["\(base)/counter"]),
                    try curl(["-H", "Expect: 100-continue", "-H", "Content-Type: application/json", "-d", Self.upload(), "\(base)/upload"])]
        }
        server.stop()
        #expect(recorded.map { field("n", $0) as? Int } == [1, 2, 3, 4, 5, 6])

        let mock = try WirelogProcess(["mock", "--listen", "127.0.0.1:0", "--db", store.argument, "--ignore-query", "ts", "--explain"])
        defer { mock.signal(SIGKILL) }
        let base = "http://127.0.0.1:\(try mock.listeningPort())"
        let mocked = try await onThread {
            [try curl(["-H", "Content-Type: application/json", "-d", #"{ "qty": 2, "name": "x" }"#, "\(base)/orders"]),
             try curl(["-H", "X-Request-Id: zz", "-H", "User-Agent: other", "\(base)/items?ts=999&id=2"]),
             try curl(["\(base)/items?id=1"]),
             try curl(["\(base)/counter"]), try curl(["\(base)/counter"]), try curl(["\(base)/counter"]),
             // The head first, then (after the mock's 100 Continue) the body: matched together.
             try curl(["-H", "Expect: 100-continue", "-H", "Content-Type: application/json", "-d", Self.upload(spaced: true), "\(base)/upload"])]
        }
        #expect(mocked.map { field("n", $0) as? Int } == [3, 2, 1, 4, 5, 5, 6])

        // Python requests on one keep-alive connection, in yet another order.
        let python = """
            import json, requests, sys
            s = requests.Session()
            out = [s.get(sys.argv[1] + p, headers={"X-Trace": "t"}).json()["n"] for p in ["/items?id=2&ts=7", "/items?ts=8&id=1"]]
            r = s.get(sys.argv[1] + "/items?id=3")
            print(json.dumps({"n": out, "status": r.status_code, "body": r.text}))
            """
        let output = try await onThread { try Program.run("python3", ["-c", python, base]) }
        let result = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        #expect(result["n"] as? [Int] == [2, 1])
        #expect(result["status"] as? Int == 501)
        let body = try #require(result["body"] as? String)
        #expect(body.hasPrefix("wirelog mock: no recorded reply for GET /items?id=3; closest recorded request is GET /items?id=1&ts=100"))
        #expect(body.contains(#"differs in query id (recorded "1", got "3")"#))
        // Another protocol is a miss, answered as HTTP; the mock goes on.
        let garbage = try await onThread { () throws -> String in
            let socket = try TestSocket.connect(port: Int(base.split(separator: ":").last!)!)
            try socket.send([0x00, 0xFF] + Array("PING\r\n\r\n".utf8))
            return String(decoding: try socket.receive() ?? [], as: UTF8.self)
        }
        #expect(garbage.hasPrefix("HTTP/1.1 501 Not Implemented\r\n"))
        #expect(garbage.contains("it is not http"))
        let bad = try WirelogProcess.run(["mock", "--listen", "127.0.0.1:0", "--db", store.argument, "--ignore-json", "$.a[x]"])
        #expect(bad.status == 64)
        #expect(bad.stderrText.contains(#"--ignore-json: JSONPath "$.a[x]": "[x]" is not [N], [*] or ['name']"#))
        // --explain: each decision, and how the same request's recordings are used.
        _ = try mock.waitForStderr(containing: "2 recordings ask the same, answered in recorded order (this is 2 of 2, repeated from here on)")
        mock.signal(SIGTERM)
        #expect(try mock.wait().failure == nil)
    }

    /// redis-cli in another order and on new connections: INCR counts on across connections, a
    /// command not recorded gets `-ERR wirelog mock: …`; redis-benchmark's GETs are answered.
    @Test(arguments: TestBackend.allCases)
    func redisClientsAreAnsweredByCommandAndArguments(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        let redisPort = try freePort()
        let redis = try Program("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                directory: directory.path)
        try await waitUntilListening(port: redisPort)
        let recorded = try await Recorder.through(upstreamPort: redisPort, store: store) { port in
            let p = String(port)
            return [try Program.run("redis-cli", ["-p", p, "SET", "greeting", "hello"]),
                    try Program.run("redis-cli", ["-p", p, "GET", "greeting"]),
                    try Program.run("redis-cli", ["-p", p, "INCR", "counter"]),
                    try Program.run("redis-cli", ["-p", p, "INCR", "counter"]),
                    try Program.run("redis-benchmark", ["-p", p, "-t", "get", "-n", "10", "-c", "1", "-q"])]
        }
        redis.stop()
        #expect(Array(recorded.prefix(4)) == ["OK\n", "hello\n", "1\n", "2\n"])

        let mock = try WirelogProcess(["mock", "--listen", "127.0.0.1:0", "--db", store.argument, "--when-exhausted", "miss"])
        defer { mock.signal(SIGKILL) }
        let p = String(try mock.listeningPort())
        let mocked = try await onThread {
            [try Program.run("redis-cli", ["-p", p, "GET", "greeting"]),
             try Program.run("redis-cli", ["-p", p, "INCR", "counter"]),
             try Program.run("redis-cli", ["-p", p, "INCR", "counter"]),
             try Program.run("redis-cli", ["-p", p, "INCR", "counter"]),
             try Program.run("redis-cli", ["-p", p, "GET", "other"])]
        }
        #expect(Array(mocked.prefix(3)) == ["hello\n", "1\n", "2\n"])
        #expect(mocked[3].hasPrefix("ERR wirelog mock: no recorded reply for INCR counter; each of its 2 recorded answers was given"))
        #expect(mocked[4].hasPrefix("ERR wirelog mock: no recorded reply for GET other; closest recorded request is GET greeting"))
        #expect(mocked[4].contains(#"argument 1 (recorded "greeting", got "other")"#))
        mock.signal(SIGTERM)
        #expect(try mock.wait().failure == nil)

        // redis-benchmark's GETs (recorded ten times) answered again and again (--when-exhausted repeat).
        let repeating = try WirelogProcess(["mock", "--listen", "127.0.0.1:0", "--db", store.argument, "--no-record"])
        defer { repeating.signal(SIGKILL) }
        let port = String(try repeating.listeningPort())
        let benchmark = try await onThread { try Program.run("redis-benchmark", ["-p", port, "-t", "get", "-n", "2000", "-c", "4", "-q"]) }
        #expect(benchmark.contains("GET: "))
        repeating.signal(SIGTERM)
        // Its whole log, read once it has exited: every GET was answered from the recording.
        let ended = try repeating.wait()
        #expect(ended.failure == nil)
        #expect(!ended.stderrText.contains("no recorded reply"))
    }

    /// psql and pgbench -S (simple and prepared) recorded against the test PostgreSQL run against
    /// the mock, which logs them in itself; a statement not recorded is an ErrorResponse.
    @Test(arguments: TestBackend.allCases)
    func psqlAndPgbenchRunAgainstTheMock(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        let url = try TestPostgres.freshDatabaseURL()
        _ = try await onThread { try Program.run("pgbench", ["-i", "-q", "-s", "1", url]) }
        let address = try TestPostgres.serverAddress()
        let pgbench: @Sendable (String, String) throws -> String = { url, mode in
            try Program.run("pgbench", ["-n", "-S", "-M", mode, "-t", "20", "-c", "1", "--random-seed=7", url])
        }
        _ = try await Recorder.through(upstreamPort: address.port, store: store) { port in
            let through = try Self.url(url, port: port)
            return [try TestPostgres.psql(through, "SELECT   41 + 1"), try pgbench(through, "simple"), try pgbench(through, "prepared")]
        }

        let mock = try WirelogProcess(["mock", "--listen", "127.0.0.1:0", "--db", store.argument])
        defer { mock.signal(SIGKILL) }
        let mocked = try Self.url(url, port: try mock.listeningPort(), user: "anyone")
        let answers = try await onThread {
            [try TestPostgres.psql(mocked, "SELECT 41\n + 1"), try pgbench(mocked, "prepared"), try pgbench(mocked, "simple")]
        }
        #expect(answers[0] == "42")
        #expect(answers[1].contains("number of transactions actually processed: 20/20"))
        #expect(answers[2].contains("number of transactions actually processed: 20/20"))
        let miss = try await onThread {
            try WirelogProcess(["psql", "-X", "-w", "-qAt", "-d", mocked, "-c", "SELECT 2"], executable: "/usr/bin/env").wait(timeout: 30)
        }
        #expect(miss.status != 0)
        #expect(miss.stderrText.contains("wirelog mock: no recorded reply for SELECT 2; closest recorded request is"))
        mock.signal(SIGTERM)
        #expect(try mock.wait().failure == nil)
    }

    /// export → import → export gives the same HAR but for connection ids, and the mock serves
    /// the imported sessions; a malformed HAR is one line naming what is wrong.
    @Test(arguments: TestBackend.allCases)
    func harRoundTripsThroughImportAndTheMockServesIt(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        let server = try await JSONServer.start()
        _ = try await Recorder.through(upstreamPort: server.port, store: store) { port in
            [try curl(["http://127.0.0.1:\(port)/items?id=1"]),
             try curl(["-H", "Content-Type: application/json", "-d", #"{"name":"x"}"#, "http://127.0.0.1:\(port)/orders"])]
        }
        server.stop()
        let exported = try WirelogProcess.run(["sessions", "export", "--decoding", "http", "--format", "har", "--db", store.argument])
        #expect(exported.failure == nil)
        let har = directory.path + "/api.har"
        try Data(exported.stdoutText.utf8).write(to: URL(fileURLWithPath: har))

        let imported = try backend.freshStore(in: directory, name: "imported")
        let importing = try WirelogProcess.run(["sessions", "import", "--format", "har", har, "--db", imported.argument])
        #expect(importing.failure == nil)
        #expect(importing.stdoutText.hasPrefix("imported 2 exchanges from \(har) as sessions "))
        let again = try WirelogProcess.run(["sessions", "export", "--kind", "import", "--format", "har", "--db", imported.argument])
        #expect(again.failure == nil)
        #expect(try Self.withoutConnections(again.stdoutText) == Self.withoutConnections(exported.stdoutText))

        let mock = try WirelogProcess(["mock", "--listen", "127.0.0.1:0", "--db", imported.argument, "--no-record"])
        defer { mock.signal(SIGKILL) }
        let port = try mock.listeningPort()
        let answer = try await onThread { try curl(["http://127.0.0.1:\(port)/items?id=1"]) }
        #expect(field("path", answer) as? String == "/items?id=1")
        mock.signal(SIGTERM)
        #expect(try mock.wait().failure == nil)

        let broken = directory.path + "/broken.har"
        try Data(#"{"log":{"entries":[{"startedDateTime":"2026-12-07T18:02:57.700Z","request":{}}]}}"#.utf8).write(to: URL(fileURLWithPath: broken))
        let refused = try WirelogProcess.run(["sessions", "import", "--format", "har", broken, "--db", imported.argument])
        #expect(refused.status == 2)
        #expect(refused.stderrText == "wirelog: \(broken): log.entries[0].time is missing\n")
    }

    /// A HAR document with each entry's `connection` (a session id) left out.
    private static func withoutConnections(_ text: String) throws -> NSDictionary {
        var document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        var log = try #require(document["log"] as? [String: Any])
        log["entries"] = (log["entries"] as? [[String: Any]] ?? []).map { entry in entry.filter { $0.key != "connection" } }
        document["log"] = log
        return document as NSDictionary
    }

    /// A JSON body of some 2 KB, its keys in one order or (`spaced`) the other, with spaces.
    private static func upload(spaced: Bool = false) -> String {
        let blob = String(repeating: "x", count: 2048)
        return spaced ? #"{ "k": 1, "blob": "\#(blob)" }"# : #"{"blob":"\#(blob)","k":1}"#
    }

    private static func url(_ url: String, port: Int, user: String? = nil) throws -> String {
        var components = try #require(URLComponents(string: url))
        components.port = port
        if let user { components.user = user }
        return try #require(components.string)
    }
}

/// What curl printed.
private func curl(_ arguments: [String]) throws -> String {
    try Program.run("curl", ["-sS"] + arguments)
}

/// A field of the JSON object `text` is.
private func field(_ name: String, _ text: String) -> Any? {
    ((try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any])?[name]
}

/// Records what `clients` do through an in-process proxy to 127.0.0.1:`upstreamPort`, then stops
/// the proxy once every session is committed.
enum Recorder {
    static func through<T: Sendable>(upstreamPort: Int, store: StoreLocation,
                                     _ clients: @escaping @Sendable (Int) throws -> T) async throws -> T {
        var configuration = ProxyConfiguration(upstreamHost: "127.0.0.1", upstreamPort: upstreamPort)
        configuration.listenPort = 0
        configuration.eventLoopThreads = 1
        let logger = Logger(label: "test.proxy") { _ in SwiftLogNoOpLogHandler() }
        let proxy = ProxyServer(configuration: configuration, sink: try await store.openRecorder(RecorderSettings(), logger: logger), logger: logger)
        let port = try await proxy.start().port!
        let result = try await onThread { try clients(port) }
        await proxy.shutdownGracefully(grace: .seconds(5))
        return result
    }
}
