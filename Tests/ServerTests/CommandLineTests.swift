import Client
import Foundation
import NIOCore
import NIOPosix
import Testing
import TestSupport

/// What a person sees from `serve` and `client`: one plain line per failure, nothing created
/// when a command fails, a terminal session that reads cleanly.
@Suite struct CommandLineTests {
    @Test func aRefusedConnectionIsOnePlainLine() throws {
        let port = try closedLoopbackPort()
        let result = try WirelogProcess.run(["client", "127.0.0.1:\(port)"], input: Array("HELO\n".utf8))
        #expect(result.status == 1)
        #expect(result.stderrText == "wirelog: cannot connect to 127.0.0.1:\(port): connection refused (is wirelog serve running there?)\n")
    }

    @Test func aPortInUseIsOnePlainLineAndCreatesNothing() async throws {
        let dir = TemporaryDirectory()
        let group = MultiThreadedEventLoopGroup.singleton
        let taken = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = taken.localAddress!.port!
        for command in [["serve"], ["proxy", "--upstream", "127.0.0.1:1"]] {
            let result = try WirelogProcess.run(command + ["--listen", "127.0.0.1:\(port)", "--db", dir.file("x.sqlite")])
            #expect(result.status == 2)
            #expect(result.stderrText.hasSuffix("wirelog: cannot listen on 127.0.0.1:\(port): address already in use\n"), "\(result.stderrText)")
            #expect(!result.stderrText.contains("errno"))
        }
        try await taken.close()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    /// The port is held from the start, before the store opens; a client that connects meanwhile
    /// (here serve waits for another process's write lock on the database) is served once serve is
    /// ready, not reset when the hold ends: a script that waits for the port can use it at once.
    /// The same for a proxy with toxics (its listener is one of a fleet's).
    @Test(arguments: [false, true])
    func aClientThatConnectsWhileTheStoreOpensIsServed(throughAProxyWithFaults: Bool) async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("locked.sqlite")
        #expect(try WirelogProcess.run(["bench", "populate", "--sessions", "1", "--db", path]).failure == nil)
        let locker = Process()
        locker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        locker.arguments = ["python3", "-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1], isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
            print("locked", flush=True)
            sys.stdin.readline()
            db.execute("COMMIT")
            """, path]
        let lockerInput = Pipe(), lockerOutput = Pipe()
        locker.standardInput = lockerInput
        locker.standardOutput = lockerOutput
        try locker.run()
        defer { if locker.isRunning { locker.terminate() } }
        var said = Data()
        while !said.contains(UInt8(ascii: "\n")) {
            let more = lockerOutput.fileHandleForReading.availableData
            try #require(!more.isEmpty, "the locking process ended: \(String(decoding: said, as: UTF8.self))")
            said += more
        }
        #expect(String(decoding: said, as: UTF8.self) == "locked\n")

        let port = try closedLoopbackPort()
        var upstream: WirelogProcess?
        let command: [String]
        if throughAProxyWithFaults {
            let server = try WirelogProcess(["serve", "--no-record", "--listen", "127.0.0.1:0"])
            upstream = server
            command = ["proxy", "--upstream", "127.0.0.1:\(try server.listeningPort())", "--fault", "latency:latency=1"]
        } else {
            command = ["serve"]
        }
        defer { upstream?.process.terminate() }
        let serve = try WirelogProcess(command + ["--listen", "127.0.0.1:\(port)", "--db", path, "--busy-timeout", "60s"])
        defer { serve.process.terminate() }
        try await waitUntilListening(port: port)
        let client = try TestSocket.connect(port: port)
        try client.send(Array("HELO\n".utf8))
        lockerInput.fileHandleForWriting.write(Data("\n".utf8))
        #expect(try client.receive(exactly: 7) == Array("100 OK\n".utf8))
        locker.waitUntilExit()
    }

    /// `--web` on a port in use, or on `--listen`'s own: one line naming that port, before any
    /// store is made (nothing else in the log).
    @Test func aWebPortInUseIsNamedAndCreatesNothing() throws {
        let dir = TemporaryDirectory()
        let taken = try TestListener()
        let free = try closedLoopbackPort()
        for command in [["serve"], ["proxy", "--upstream", "127.0.0.1:9"]] {
            for (listen, web) in [("127.0.0.1:0", taken.port), ("127.0.0.1:\(free)", free)] {
                let result = try WirelogProcess.run(command + ["--listen", listen, "--web", "127.0.0.1:\(web)", "--db", dir.file("x.sqlite")])
                #expect(result.status == 2)
                #expect(result.stderrText == "wirelog: cannot listen on 127.0.0.1:\(web) for the web viewer (--web): address already in use\n",
                        "\(command) --listen \(listen)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    /// A host name that does not resolve (looked up with no network: `unshare -n`) is one plain
    /// line: no hint that a server may be down, no warning about other machines first.
    @Test func aHostNameThatDoesNotResolveIsOnePlainLine() throws {
        try #require(WirelogProcess.canRunWithoutNetwork, "needs unshare -n (network namespaces) to look a name up without a network")
        let dir = TemporaryDirectory()
        let client = try WirelogProcess.runWithoutNetwork(["client", "nohost:7070"])
        #expect(client.status == 1)
        #expect(client.stderrText == "wirelog: cannot connect to nohost:7070: cannot resolve the host name nohost\n")
        for port in [7070, 0] {
            let serve = try WirelogProcess.runWithoutNetwork(["serve", "--listen", "nohost:\(port)", "--db", dir.file("x.sqlite")])
            #expect(serve.status == 2)
            #expect(serve.stderrText == "wirelog: cannot listen on nohost:\(port): cannot resolve the host name nohost\n")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func anAddressWithoutAPortSaysHostPortIsExpected() throws {
        for arguments in [["client", "127.0.0.1"], ["serve", "--listen", "0.0.0.0"], ["replay", "1", "--to", "localhost"]] {
            let result = try WirelogProcess.run(arguments)
            #expect(result.status == 64)
            #expect(result.stderrText.contains("HOST:PORT is expected"), "\(arguments): \(result.stderrText)")
        }
    }

    @Test func helpSaysEachDefaultOnceAndTheUnitOfABareNumber() throws {
        /// An option's entry: its name line and its help line.
        func entry(_ option: String, in help: String) throws -> String {
            let lines = help.split(separator: "\n")
            let index = try #require(lines.firstIndex { $0.hasPrefix("  \(option) ") })
            return lines[index...].prefix(2).joined(separator: "\n")
        }
        let serve = try WirelogProcess.run(["serve", "--help"], environment: ["COLUMNS": "400"]).stdoutText
        let threads = try entry("--threads", in: serve)
        #expect(threads.contains("one per core") && !threads.contains("(default: \(ProcessInfo.processInfo.activeProcessorCount))"), "\(threads)")
        let idle = try entry("--idle-timeout", in: serve)
        #expect(idle.contains("a bare number is seconds") && idle.contains("0 turns the limit off"), "\(idle)")
        // Wide enough for a paragraph on one line: no sentence is broken where the source wrapped.
        let replay = try WirelogProcess.run(["replay", "--help"], environment: ["COLUMNS": "400"]).stdoutText
        #expect(replay.contains("sent before the client's first message"), "\(replay)")
        #expect(try WirelogProcess.run(["bench", "run", "--help"], environment: ["COLUMNS": "400"]).stdoutText.contains("(default: 10s"))
    }

    @Test func anIdleTimeoutOfZeroIsNoLimit() async throws {
        let dir = TemporaryDirectory()
        let server = try await TestServer.start(databasePath: dir.file("wirelog.sqlite")) { $0.idleTimeout = .zero }
        let connection = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        try await connection.send(Array("HELO\n".utf8))
        #expect(try await connection.readReply() == Array("100 OK\n".utf8))
        #expect(server.server.connectionCount == 1)
        try await connection.send(Array("QUIT\n".utf8))
        #expect(try await connection.readReply() == Array("200 BYE\n".utf8))
        await connection.close()
        await server.stop()
        #expect(try await RecordedRows.sessions(server.store).first?.endReason == "quit")

        let serve = try WirelogProcess(["serve", "--listen", "127.0.0.1:0", "--idle-timeout", "0", "--db", dir.file("cli.sqlite")])
        _ = try serve.listeningPort()
        serve.signal(SIGTERM)
        #expect(try serve.wait(timeout: 30).failure == nil)
    }

    /// Ctrl-D at the data prompt ends the session without a DATA, and what follows starts on a line of its own.
    @Test func endOfInputAtTheDataPromptSendsNoDataAndKeepsLinesApart() async throws {
        let dir = TemporaryDirectory()
        let server = try await TestServer.start(databasePath: dir.file("wirelog.sqlite"))
        let client = try TerminalProcess(["client", "127.0.0.1:\(server.port)"])
        try client.waitFor("Command: ")
        client.type("HELO\n")
        try client.waitFor("100 OK")
        client.type("DATA\n")
        try client.waitFor("Input data to send: ")
        client.type("\u{4}")
        let screen = try client.waitFor("200 BYE")
        #expect(try client.wait() == 0)
        await server.stop()
        #expect(!screen.contains("send: 200") && !screen.contains("Command: 200"), "\(screen.debugDescription)")
        #expect(screen.contains("\n200 BYE"), "\(screen.debugDescription)")
        let commands = try await RecordedRows.messages(server.store).filter { $0.sender == "client" }.map(\.rawText)
        #expect(commands == ["HELO\n", "QUIT\n"])
    }

    /// Bytes that are not UTF-8 leave as they were read, piped or typed at either prompt.
    @Test(arguments: [false, true])
    func theClientSendsTheBytesItReads(atATerminal: Bool) async throws {
        let helo = Array("HELO ".utf8) + [0xFF, 0xFE]
        let payload: [UInt8] = [0xC3, 0x28, 0x80, 0x41]
        let listener = try TestListener()
        // The server's side: each command's exact bytes, then its reply.
        let server = Task {
            try await onThread { () -> [[UInt8]] in
                let connection = try listener.accept()
                var received: [[UInt8]] = []
                for (count, reply) in [(helo.count + 1, "100 OK\n"), (5 + payload.count + 1, "300 DRCV\n"), (5, "200 BYE\n")] {
                    received.append(try connection.receive(exactly: count))
                    try connection.send(Array(reply.utf8))
                }
                connection.close()
                return received
            }
        }
        let arguments = ["client", "127.0.0.1:\(listener.port)"]
        if atATerminal {
            let client = try TerminalProcess(arguments)
            try client.waitFor("Command: ")
            client.type(helo + [0x0A])
            try client.waitFor("100 OK")
            client.type("DATA\n")
            try client.waitFor("Input data to send: ")
            client.type(payload + [0x0A])
            try client.waitFor("300 DRCV")
            client.type("\u{4}")
            #expect(try client.wait() == 0)
        } else {
            let result = try WirelogProcess.run(arguments, input: helo + Array("\nDATA\n".utf8) + payload + [0x0A])
            #expect(result.failure == nil)
        }
        let received = try await server.value
        #expect(received == [helo + [0x0A], Array("DATA ".utf8) + payload + [0x0A], Array("QUIT\n".utf8)])
    }

    /// A reply that keeps arriving is waited for, however long it takes in all; only silence times out.
    @Test func aLongReplyStillArrivingIsNotATimeout() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let pieces = 30, pieceSize = 100_000
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SlowReplyHandler(pieces: pieces, pieceSize: pieceSize))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let result = try WirelogProcess.run(["client", "127.0.0.1:\(server.localAddress!.port!)", "--timeout", "1s"],
                                            input: Array("HELO\n".utf8))
        try await server.close()
        #expect(result.failure == nil)
        #expect(result.stdoutText == String(repeating: "x", count: pieces * pieceSize) + "\n200 BYE\n")
    }
}

/// Answers the first command with `pieces` pieces of `x`, one every 100 ms (3 s in all), then a
/// line end; anything after that with `200 BYE`, closing.
private final class SlowReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let pieces: Int
    private let pieceSize: Int
    private var answered = false

    init(pieces: Int, pieceSize: Int) {
        self.pieces = pieces
        self.pieceSize = pieceSize
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "200 BYE\n"))).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        answered = true
        send(piece: 0, context: context)
    }

    private func send(piece: Int, context: ChannelHandlerContext) {
        guard piece < pieces else {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "\n")), promise: nil)
            return
        }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(repeating: UInt8(ascii: "x"), count: pieceSize)), promise: nil)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .milliseconds(100)) {
            let (handler, context) = bound.value
            handler.send(piece: piece + 1, context: context)
        }
    }
}
