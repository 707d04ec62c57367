import Bench
import Foundation
import NIOCore
import NIOPosix
import Testing
import TestSupport

private let dataRequest = Array("DATA 0123456789abcdef\n".utf8)

private func configuration(port: Int, _ adjust: (inout BenchConfiguration) -> Void) -> BenchConfiguration {
    var configuration = BenchConfiguration()
    configuration.port = port
    configuration.replyTimeoutMicroseconds = 20_000_000
    adjust(&configuration)
    return configuration
}

/// A test echo server on an ephemeral port; `corruptAt` flips the byte at that stream offset of each
/// connection; `silent` reads and never answers.
private func startEcho(group: MultiThreadedEventLoopGroup, corruptAt: Int? = nil, silent: Bool = false) async throws -> any Channel {
    try await ServerBootstrap(group: group)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                if !silent { try channel.pipeline.syncOperations.addHandler(EchoHandler(corruptAt: corruptAt)) }
            }
        }
        .bind(host: "127.0.0.1", port: 0).get()
}

private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let corruptAt: Int?
    private var offset = 0

    init(corruptAt: Int?) { self.corruptAt = corruptAt }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if let corruptAt, (offset..<offset + buffer.readableBytes).contains(corruptAt) {
            let index = buffer.readerIndex + corruptAt - offset
            buffer.setInteger(buffer.getInteger(at: index, as: UInt8.self)! ^ 0xFF, at: index)
        }
        offset += buffer.readableBytes
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
}

private let redisServer = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }

@Suite struct BenchTests {
    @Test(arguments: TestBackend.allCases)
    func countsExactlyTheRequestsItMadeAndTheServerRecordedThem(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let server = try await TestServer.start(store: try backend.freshStore(in: dir))
        let result = try await LoadGenerator.run(configuration(port: server.port) {
            $0.connections = 4
            $0.pipeline = 3
            $0.stop = .requests(601)
            $0.request = dataRequest
            $0.expect = Array("300 DRCV\n".utf8)
        })
        await server.stop()
        #expect(result.requests == 601)
        #expect(result.errors == 0)
        #expect(result.badReplies == 0)
        #expect(result.connected == 4)
        #expect(result.latencyMicros != nil)
        let messages = try await RecordedRows.messages(server.store)
        #expect(messages.filter { $0.sender == "client" }.count == 601)
        #expect(messages.filter { $0.sender == "server" }.allSatisfy { $0.rawText == "300 DRCV\n" })
    }

    @Test func aReplyOtherThanTheExpectedOneIsCountedBad() async throws {
        let dir = TemporaryDirectory()
        let server = try await TestServer.start(databasePath: dir.file("wirelog.sqlite"))
        let result = try await LoadGenerator.run(configuration(port: server.port) {
            $0.connections = 2
            $0.stop = .requests(40)
            $0.request = dataRequest
            $0.expect = Array("100 OK\n".utf8)
        })
        await server.stop()
        #expect(result.requests == 40)
        #expect(result.badReplies == 40)
        #expect(result.errors == 0)
        // What came instead, escaped, in the result and its text.
        #expect(result.badReplySample == "300 DRCV\\n")
        #expect(result.text().contains("bad replies    40 (first: 300 DRCV\\n)"), "\(result.text())")
    }

    @Test func aLabBadCommandReplyIsFramedAsTwoLines() async throws {
        let dir = TemporaryDirectory()
        let server = try await TestServer.start(databasePath: dir.file("wirelog.sqlite"))
        let result = try await LoadGenerator.run(configuration(port: server.port) {
            $0.connections = 2
            $0.pipeline = 4
            $0.stop = .requests(100)
            $0.request = Array("USER\n".utf8)
            $0.expect = Array("400 BCMD\r\nCommand-description: Bad command\r\n".utf8)
        })
        await server.stop()
        #expect(result.requests == 100)
        #expect(result.badReplies == 0)
        #expect(result.errors == 0)
    }

    @Test func aWarmUpIsAnsweredButNotMeasured() async throws {
        let dir = TemporaryDirectory()
        let server = try await TestServer.start(databasePath: dir.file("wirelog.sqlite"))
        let result = try await LoadGenerator.run(configuration(port: server.port) {
            $0.stop = .requests(50)
            $0.warmupMicroseconds = 200_000
            $0.request = dataRequest
        })
        await server.stop()
        let recorded = try await RecordedRows.messages(server.store).filter { $0.sender == "client" }.count
        #expect(result.requests == 50)
        #expect(result.warmupRequests > 0)
        #expect(recorded == 50 + result.warmupRequests)
    }

    @Test func aServerThatIsNotThereIsAnErrorNotAHang() async throws {
        let result = try await LoadGenerator.run(configuration(port: try closedLoopbackPort()) {
            $0.connections = 2
            $0.stop = .requests(10)
        })
        #expect(result.connected == 0)
        #expect(result.errors == 2)
        #expect(result.firstError?.contains("cannot connect") == true)
    }

    @Test func aServerThatNeverAnswersTimesOutAsErrors() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let silent = try await startEcho(group: group, silent: true)
        let result = try await LoadGenerator.run(configuration(port: silent.localAddress!.port!) {
            $0.connections = 3
            $0.stop = .requests(30)
            $0.replyTimeoutMicroseconds = 300_000
        })
        try await silent.close()
        try await group.shutdownGracefully()
        #expect(result.connected == 3)
        #expect(result.requests == 0)
        #expect(result.errors == 3)
        #expect(result.firstError?.contains("no reply") == true)
        // The run lasted until the connections gave up waiting, not 0 s.
        #expect(result.seconds >= 0.3, "\(result.seconds)")
    }

    @Test func aRunOnATerminalShowsItsProgress() async throws {
        let dir = TemporaryDirectory()
        let server = try await TestServer.start(databasePath: dir.file("wirelog.sqlite"))
        let bench = try TerminalProcess(["bench", "--to", "127.0.0.1:\(server.port)", "--duration", "1s"], stderrOnTerminal: true)
        let screen = try bench.waitFor("of 1.00s")
        #expect(try bench.wait() == 0)
        await server.stop()
        #expect(screen.contains("bench: 127.0.0.1:\(server.port), 1 connection, measuring "), "\(screen.debugDescription)")
    }

    @Test(.enabled(if: redisServer != nil, "needs redis-server (apt-get install -y redis-server)"))
    func redisInlinePingIsAOneLineReply() async throws {
        let port = try closedLoopbackPort()
        let redis = Process()
        redis.executableURL = URL(fileURLWithPath: redisServer!)
        redis.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        redis.standardOutput = FileHandle.nullDevice
        try redis.run()
        defer {
            // SIGKILL: the child inherits the test runner's blocked signals, so SIGTERM would wait forever.
            // This redis keeps nothing on disk.
            kill(redis.processIdentifier, SIGKILL)
            redis.waitUntilExit()
        }
        // Wait (bounded) until redis accepts connections.
        var result: BenchResult?
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            let attempt = try await LoadGenerator.run(configuration(port: port) {
                $0.connections = 3
                $0.pipeline = 2
                $0.stop = .requests(300)
                $0.request = Array("PING\r\n".utf8)
                $0.expect = Array("+PONG\r\n".utf8)
            })
            if attempt.connected > 0 {
                result = attempt
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let answered = try #require(result)
        #expect(answered.requests == 300)
        #expect(answered.badReplies == 0)
        #expect(answered.errors == 0)
    }

    @Test func bulkBytesComeBackVerifiedThroughTheEchoServer() async throws {
        let echo = try await EchoServer.start(host: "127.0.0.1", port: 0)
        let result = try await LoadGenerator.run(configuration(port: echo.port) {
            $0.connections = 2
            $0.bulkBytes = 3_000_017
        })
        try await echo.stop()
        #expect(result.errors == 0)
        #expect(result.bulkVerifiedBytes == 6_000_034)
        #expect((result.megabytesPerSecond ?? 0) > 0)
    }

    @Test func bulkNoticesACorruptedByte() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let echo = try await startEcho(group: group, corruptAt: 1_500_000)
        let result = try await LoadGenerator.run(configuration(port: echo.localAddress!.port!) {
            $0.bulkBytes = 2_000_000
        })
        try await echo.close()
        try await group.shutdownGracefully()
        #expect(result.errors == 1)
        #expect(result.badReplies == 1)
        #expect((result.bulkVerifiedBytes ?? 0) < 2_000_000)
        #expect(result.firstError?.contains("differ") == true)
    }

    @Test func escapesInArguments() throws {
        #expect(try ArgumentEscapes.unescape(#"PING\r\n"#) == Array("PING\r\n".utf8))
        #expect(try ArgumentEscapes.unescape(#"a\\b\x41\t\0"#) == Array("a\\bA\t\0".utf8))
        #expect(throws: ArgumentEscapes.InvalidEscape.self) { try ArgumentEscapes.unescape(#"bad\q"#) }
        #expect(throws: ArgumentEscapes.InvalidEscape.self) { try ArgumentEscapes.unescape(#"\x4"#) }
    }

    @Test func theBinaryPrintsOneJSONObject() async throws {
        let dir = TemporaryDirectory()
        let server = try await TestServer.start(databasePath: dir.file("wirelog.sqlite"))
        let output = try WirelogProcess.run([
            "bench", "--to", "127.0.0.1:\(server.port)", "--connections", "2", "--duration", "1s",
            "--warmup", "200ms", "--expect", #"300 DRCV\n"#, "--json",
        ], timeout: 30)
        await server.stop()
        #expect(output.failure == nil)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout)) as? [String: Any])
        #expect((object["requests"] as? Int ?? 0) > 0)
        #expect(object["errors"] as? Int == 0)
        #expect(object["bad_replies"] as? Int == 0)
        #expect((object["latency_micros"] as? [String: Any])?["p99"] != nil)
    }

    @Test func theBinaryExplainsBadArguments() throws {
        let output = try WirelogProcess.run(["bench", "--to", "127.0.0.1:1", "--request", #"x\q"#])
        #expect(output.status != 0)
        #expect(output.stderrText.contains("invalid escape"))
    }
}
