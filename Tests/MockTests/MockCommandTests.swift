import Backends
import Foundation
import Mock
import Proxy
import Recording
import Logging
import Testing
import TestSupport

/// `wirelog mock` as a program: its errors before listening, hostile clients, and real redis
/// recorded through the proxy.
@Suite struct MockCommandTests {
    @Test(arguments: TestBackend.allCases)
    func badSelectionsAreOneLineBeforeListening(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        _ = try await Recordings.write([
            [(.server, "220 one\r\n"), (.client, "A\n"), (.server, "a\n")],
            [(.server, "220 two\r\n"), (.client, "A\n"), (.server, "a\n")],
        ], to: store)
        let db = store.argument
        let missing = try WirelogProcess.run(["mock", "--listen", "127.0.0.1:0", "--db", db, "999"])
        #expect(missing.status == 2)
        #expect(missing.stderrText == "wirelog: no session 999 in the store\n")
        let nothing = try WirelogProcess.run(["mock", "--listen", "127.0.0.1:0", "--db", db, "--kind", "replay"])
        #expect(nothing.status == 2)
        #expect(nothing.stderrText.hasPrefix("wirelog: no recorded session matches"))
        let conflict = try WirelogProcess.run(["mock", "--listen", "127.0.0.1:0", "--db", db])
        #expect(conflict.status == 2)
        #expect(conflict.stderrText.contains("start with different greetings"))
        #expect(!conflict.stderrText.contains("listening"))
        let badMiss = try WirelogProcess.run(["mock", "--listen", "127.0.0.1:0", "--db", db, "--on-miss", "shrug"])
        #expect(badMiss.status != 0)
        #expect(badMiss.stderrText.contains("--on-miss takes error, close, reply BYTES or upstream HOST:PORT"))
    }

    /// Huge messages and binary garbage are misses bounded by --max-line; the process goes on
    /// answering, and logs each miss once with the closest recorded request.
    @Test(arguments: TestBackend.allCases)
    func hostileClientsAreMissesAndTheMockGoesOn(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        _ = try await Recordings.write([[(.client, "PING\r\n"), (.server, "+PONG\r\n")]], to: store)
        let mock = try WirelogProcess(["mock", "--listen", "127.0.0.1:0", "--db", store.argument, "--max-line", "4096"])
        defer { mock.signal(SIGKILL) }
        let port = try mock.listeningPort()
        let (huge, garbage, ping) = try await onThread { () throws -> (Int, [UInt8], String) in
            let flooder = try RawSocket(port: port)
            let sent = flooder.flood(Array(repeating: UInt8(ascii: "P"), count: 65_536), limit: 64 << 20, stallTime: 2)
            let binary = try TestSocket.connect(port: port)
            try binary.send([0x00, 0xFF, 0x1B, 0x50, 0x49, 0x4E, 0x47, 0x0A])
            let garbage = try binary.receiveAll()
            return (sent, garbage, try TestSocket.connect(port: port).ask("PING\r\n"))
        }
        #expect(huge < 64 << 20, "the flood was cut off, not buffered")
        #expect(garbage.isEmpty)
        #expect(ping == "+PONG\r\n")
        let log = try mock.waitForStderr(containing: #"no recorded request matches "\x00\xff\x1bPING\n""#)
        #expect(log.contains("closest recorded request is message"))
        mock.signal(SIGTERM)
        #expect(try mock.wait().failure == nil)
    }

    /// Redis recorded through the proxy, then stopped: redis-cli and a raw RESP client get the
    /// recorded bytes from the mock, INCR counts as recorded, and what was not recorded gets --on-miss.
    @Test(arguments: TestBackend.allCases)
    func redisRecordedThroughTheProxyAnsweredByTheMock(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        let redisPort = try freePort()
        let redis = try Program("redis-server", [
            "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        ], directory: directory.path)
        try await waitUntilListening(port: redisPort)
        var configuration = ProxyConfiguration(upstreamHost: "127.0.0.1", upstreamPort: redisPort)
        configuration.listenPort = 0
        configuration.eventLoopThreads = 1
        let logger = Logger(label: "test.proxy") { _ in SwiftLogNoOpLogHandler() }
        let proxy = ProxyServer(configuration: configuration, sink: try await store.openRecorder(RecorderSettings(), logger: logger), logger: logger)
        let proxyPort = String(try await proxy.start().port!)
        let recorded = try await onThread { () throws -> [String] in
            [try Program.run("redis-cli", ["-p", proxyPort, "SET", "greeting", "hello\r\nworld"]),
             try Program.run("redis-cli", ["-p", proxyPort, "GET", "greeting"]),
             try Program.run("redis-cli", ["-p", proxyPort, "-r", "3", "INCR", "counter"]),
             try TestSocket.connect(port: Int(proxyPort)!).ask("*1\r\n$4\r\nPING\r\n")]
        }
        await proxy.shutdownGracefully(grace: .seconds(5))
        redis.stop()
        #expect(recorded == ["OK\n", "hello\r\nworld\n", "1\n2\n3\n", "+PONG\r\n"])

        let mock = try WirelogProcess(["mock", "--listen", "127.0.0.1:0", "--db", store.argument,
                                       "--on-miss", #"reply -ERR not recorded\r\n"#])
        defer { mock.signal(SIGKILL) }
        let port = String(try mock.listeningPort())
        let mocked = try await onThread { () throws -> [String] in
            [try Program.run("redis-cli", ["-p", port, "SET", "greeting", "hello\r\nworld"]),
             try Program.run("redis-cli", ["-p", port, "GET", "greeting"]),
             try Program.run("redis-cli", ["-p", port, "-r", "3", "INCR", "counter"]),
             try TestSocket.connect(port: Int(port)!).ask("*1\r\n$4\r\nPING\r\n"),
             try Program.run("redis-cli", ["-p", port, "DEL", "greeting"])]
        }
        #expect(Array(mocked.prefix(4)) == recorded)
        #expect(mocked.last == "ERR not recorded\n\n", "redis-cli prints an error reply with an empty line after it")
        mock.signal(SIGTERM)
        #expect(try mock.wait().failure == nil)
        let mockSessions = try await RecordedRows.sessions(store).filter { $0.kind == "mock" }
        #expect(mockSessions.count == 5)
    }

    /// Capture on miss: with --on-miss upstream a miss goes to the real redis and the exchange is
    /// recorded; the next mock run, without redis, answers it from that recording.
    @Test(arguments: TestBackend.allCases)
    func missesGoUpstreamAndTheNextRunAnswersThem(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        _ = try await Recordings.write([[(.client, "*1\r\n$4\r\nPING\r\n"), (.server, "+PONG\r\n")]], to: store)
        let redisPort = try freePort()
        let redis = try Program("redis-server", [
            "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        ], directory: directory.path)
        try await waitUntilListening(port: redisPort)
        let capturing = try await MockHarness.start(store: store) { $0.onMiss = .upstream(host: "127.0.0.1", port: redisPort) }
        let port = String(capturing.port)
        let firstRun = try await onThread { () throws -> [String] in
            [try Program.run("redis-cli", ["-p", port, "SET", "fresh", "from redis"]),
             try Program.run("redis-cli", ["-p", port, "GET", "fresh"]),
             try TestSocket.connect(port: Int(port)!).ask("*1\r\n$4\r\nPING\r\n")]
        }
        await capturing.stop()
        redis.stop()
        #expect(firstRun == ["OK\n", "from redis\n", "+PONG\r\n"])
        let captured = try await RecordedRows.sessions(store).filter { $0.kind == "proxy" && $0.serverPort == redisPort }
        #expect(captured.count == 2)
        let mocked = try await capturing.mockSessions()
        #expect(mocked.count == 3)
        #expect(mocked.prefix(2).allSatisfy { $0.messages.allSatisfy { $0.answeredBy == nil } }, "forwarded, not answered from a recording")

        let replaying = try await MockHarness.start(store: store)
        let secondRun = try await onThread { () throws -> String in
            try Program.run("redis-cli", ["-p", String(replaying.port), "GET", "fresh"])
        }
        await replaying.stop()
        #expect(secondRun == "from redis\n")
    }
}
