import NIOCore
import NIOEmbedded
import Testing
@testable import Faults
import Protocols

/// Each toxic on an `EmbeddedChannel` whose clock the test moves: what reaches the peer, when,
/// and how the connection ends. The channel's last handler stands for the proxy's glue.
@Suite struct ToxicHandlerTests {
    /// Stands where the glue's handler stands: the toxics go in just ahead of it.
    final class Glue: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var context: ChannelHandlerContext?
        var writabilityChanges = 0
        func handlerAdded(context: ChannelHandlerContext) { self.context = context }
        func channelWritabilityChanged(context: ChannelHandlerContext) { writabilityChanges += 1 }
    }

    /// One direction's channel of a connection with the toxics of `set`.
    struct Connection {
        let channel = EmbeddedChannel()
        let glue = Glue()
        let faults: ConnectionFaults
        var actions: [FaultAction] { recorded.actions }
        let recorded = Recorded()

        final class Recorded { var actions: [FaultAction] = [] }

        init(_ set: FaultSet, direction: ToxicDirection = .downstream, client: String = "127.0.0.1") throws {
            try channel.pipeline.syncOperations.addHandler(glue)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            let recorded = self.recorded
            faults = ConnectionFaults(set: set, proxyName: "test", clientHost: client, eventLoop: channel.embeddedEventLoop) {
                recorded.actions.append($0)
            }
            faults.attach(direction, anchor: glue.context!)
        }

        /// The client's side of the same connection (where request-reading toxics answer), on its loop.
        func clientSide() throws -> (channel: EmbeddedChannel, glue: Glue) {
            let client = (channel: EmbeddedChannel(loop: channel.embeddedEventLoop), glue: Glue())
            try client.channel.pipeline.syncOperations.addHandler(client.glue)
            try client.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
            faults.attach(.downstream, anchor: client.glue.context!)
            return client
        }

        func send(_ text: String) {
            channel.writeAndFlush(ByteBuffer(string: text), promise: nil)
        }

        /// Everything that reached the peer so far, one string per write.
        func received() throws -> [String] {
            var pieces: [String] = []
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { pieces.append(String(buffer: buffer)) }
            return pieces
        }

        func advance(_ milliseconds: Int64) { channel.embeddedEventLoop.advanceTime(by: .milliseconds(milliseconds)) }

        var hasToxicHandler: Bool {
            (try? channel.pipeline.syncOperations.context(handlerType: ToxicHandler.self)) != nil
        }
    }

    @Test func withoutToxicsNoHandlerJoinsThePipeline() throws {
        let connection = try Connection(FaultSet())
        connection.send("hello")
        #expect(try connection.received() == ["hello"])
        #expect(!connection.hasToxicHandler)
    }

    @Test func latencyDelaysEachWriteByItsAmount() throws {
        let connection = try Connection(FaultSet([Toxic(type: .latency, attributes: ["latency": 100])]))
        connection.send("a")
        connection.advance(99)
        #expect(try connection.received() == [])
        connection.advance(1)
        #expect(try connection.received() == ["a"])
        #expect(connection.actions.map(\.what) == ["delayed bytes by 100 ms ± 0 ms"])
    }

    @Test func jitterStaysWithinItsBoundsAndBytesKeepTheirOrder() throws {
        let connection = try Connection(FaultSet([Toxic(type: .latency, attributes: ["latency": 50, "jitter": 10])]))
        for index in 0..<40 {
            connection.send("\(index)")
            connection.advance(39)
            #expect(try connection.received() == [])
            connection.advance(21)
            #expect(try connection.received() == ["\(index)"])
            connection.advance(20)
        }
    }

    @Test func bandwidthSendsRateKilobytesPerSecond() throws {
        // 10 KB/s: 10 bytes a millisecond, in pieces of at most 100 ms.
        let connection = try Connection(FaultSet([Toxic(type: .bandwidth, attributes: ["rate": 10])]))
        connection.send(String(repeating: "x", count: 2_500))
        connection.advance(99)
        #expect(try connection.received() == [])
        connection.advance(1)
        #expect(try connection.received().map(\.count) == [1_000])
        connection.advance(100)
        #expect(try connection.received().map(\.count) == [1_000])
        connection.advance(49)
        #expect(try connection.received() == [])
        connection.advance(1)
        #expect(try connection.received().map(\.count) == [500])
    }

    @Test func slicerCutsWithinTheAskedSizesAndSpacesThePieces() throws {
        let connection = try Connection(FaultSet([Toxic(type: .slicer, attributes: ["average_size": 10, "size_variation": 4, "delay": 1_000])]))
        let text = String((0..<200).map { Character(UnicodeScalar(UInt8(65 + $0 % 26))) })
        connection.send(text)
        var pieces = try connection.received()
        #expect(pieces.count == 1)
        while pieces.joined().count < 200 {
            connection.advance(1)
            let next = try connection.received()
            #expect(next.count == 1)
            pieces += next
        }
        #expect(pieces.joined() == text)
        #expect(pieces.allSatisfy { $0.count <= 14 && $0.count >= 1 })
        #expect(pieces.count >= 200 / 14)
    }

    @Test func limitDataClosesAfterExactlyThatManyBytes() throws {
        let connection = try Connection(FaultSet([Toxic(type: .limitData, attributes: ["bytes": 7])]))
        connection.send("hello")
        #expect(connection.channel.isActive)
        connection.send(" world")
        #expect(try connection.received() == ["hello", " w"])
        #expect(!connection.channel.isActive)
        #expect(connection.actions.map(\.what) == ["closed the connection after 7 bytes"])
    }

    @Test func timeoutDropsBytesAndClosesAfterThatLongWithoutData() throws {
        let connection = try Connection(FaultSet([Toxic(type: .timeout, attributes: ["timeout": 100])]))
        connection.advance(60)
        connection.send("dropped")
        connection.advance(99)
        #expect(connection.channel.isActive)
        connection.advance(1)
        #expect(!connection.channel.isActive)
        #expect(try connection.received() == [])
    }

    @Test func timeoutZeroHoldsForeverAndRemovingItLetsBytesFlowAgain() throws {
        let set = FaultSet([Toxic(type: .timeout)])
        let connection = try Connection(set)
        connection.send("dropped")
        connection.advance(3_600_000)
        #expect(connection.channel.isActive)
        try set.remove(named: "timeout_downstream")
        connection.channel.embeddedEventLoop.run()
        connection.send("after")
        #expect(try connection.received() == ["after"])
        #expect(!connection.hasToxicHandler)
    }

    @Test func resetPeerClosesThatLongAfterTheFirstBytes() throws {
        let connection = try Connection(FaultSet([Toxic(type: .resetPeer, attributes: ["timeout": 20])]))
        connection.advance(500)
        #expect(connection.channel.isActive)
        connection.send("x")
        connection.advance(19)
        #expect(connection.channel.isActive)
        connection.advance(1)
        #expect(!connection.channel.isActive)
        #expect(try connection.received() == [])
    }

    @Test func slowCloseDelaysTheCloseNotTheBytes() throws {
        let connection = try Connection(FaultSet([Toxic(type: .slowClose, attributes: ["delay": 100])]))
        connection.send("a")
        #expect(try connection.received() == ["a"])
        connection.channel.close(promise: nil)
        connection.advance(99)
        #expect(connection.channel.isActive)
        connection.advance(1)
        #expect(!connection.channel.isActive)
    }

    @Test func cutResetsAfterThatLongWhileBytesFlow() throws {
        let connection = try Connection(FaultSet([Toxic(type: .cut, attributes: ["after": 50])]))
        connection.send("a")
        #expect(try connection.received() == ["a"])
        connection.advance(50)
        #expect(!connection.channel.isActive)
    }

    @Test func hangPassesThatManyBytesThenHoldsTheConnectionOpen() throws {
        let connection = try Connection(FaultSet([Toxic(type: .hang, attributes: ["after_bytes": 3])]))
        connection.send("abcdef")
        connection.send("gh")
        connection.advance(60_000)
        #expect(try connection.received() == ["abc"])
        #expect(connection.channel.isActive)
    }

    @Test func changesReachLiveConnectionsAndARemovedToxicReleasesWhatItHeld() throws {
        let set = FaultSet()
        let connection = try Connection(set)
        try set.add(Toxic(name: "slow", type: .latency, attributes: ["latency": 1_000]))
        connection.channel.embeddedEventLoop.run()
        connection.send("held")
        connection.advance(10)
        #expect(try connection.received() == [])
        try set.update(named: "slow") { toxic in
            var toxic = toxic
            toxic.attributes["latency"] = 10
            return toxic
        }
        connection.channel.embeddedEventLoop.run()
        connection.send("quick")
        try set.remove(named: "slow")
        connection.channel.embeddedEventLoop.run()
        #expect(try connection.received() == ["held", "quick"])
        #expect(!connection.hasToxicHandler)
    }

    @Test func toxicsOfADirectionActOnlyThere() throws {
        let set = FaultSet([Toxic(type: .latency, stream: .upstream, attributes: ["latency": 100])])
        let downstream = try Connection(set, direction: .downstream)
        let upstream = try Connection(set, direction: .upstream)
        downstream.send("d")
        upstream.send("u")
        #expect(try downstream.received() == ["d"])
        #expect(try upstream.received() == [])
        let both = try Connection(FaultSet([Toxic(type: .latency, stream: .both, attributes: ["latency": 100])]), direction: .downstream)
        both.send("b")
        #expect(try both.received() == [])
    }

    @Test func toxicityZeroAndAClientConditionLeaveConnectionsAlone() throws {
        let never = try Connection(FaultSet([Toxic(type: .latency, toxicity: 0, attributes: ["latency": 100])]))
        never.send("a")
        #expect(try never.received() == ["a"])
        let elsewhere = FaultSet([Toxic(type: .latency, attributes: ["latency": 100], clients: ClientCondition("10.0.0.0/8"))])
        let local = try Connection(elsewhere, client: "127.0.0.1")
        local.send("a")
        #expect(try local.received() == ["a"])
        let remote = try Connection(elsewhere, client: "10.1.2.3")
        remote.send("a")
        #expect(try remote.received() == [])
    }

    @Test func heldBytesPastTheLimitStopTheGlueReadingUntilTheyLeave() throws {
        let connection = try Connection(FaultSet([Toxic(type: .latency, attributes: ["latency": 100])]))
        connection.send(String(repeating: "x", count: ConnectionFaults.maximumHeldBytes))
        #expect(!connection.faults.accepts(.downstream))
        #expect(connection.faults.accepts(.upstream))
        connection.advance(100)
        #expect(connection.faults.accepts(.downstream))
        #expect(connection.glue.writabilityChanges == 1)
    }

    // MARK: Toxics that read requests

    /// A client's request toxics on the upstream side; what the client gets back.
    struct Requests {
        let upstream: Connection
        let client: EmbeddedChannel

        init(_ toxic: Toxic) throws {
            upstream = try Connection(FaultSet([toxic]), direction: .upstream)
            client = try upstream.clientSide().channel
        }

        func answers() throws -> String {
            var text = ""
            while let buffer = try client.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
            return text
        }
    }

    private func resp(_ words: String...) -> String {
        "*\(words.count)\r\n" + words.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
    }

    @Test func respErrorAnswersOnlyMatchingCommandsWithItsOwnText() throws {
        let requests = try Requests(Toxic(type: .respError, stream: .upstream, attributes: ["error": "LOADING Redis is loading the dataset in memory"],
                                          requests: RequestCondition(["command": "get"])))
        // Pipelined, and split mid-command: the cut does not depend on the reads.
        let bytes = resp("GET", "k") + resp("SET", "k", "v") + resp("get", "k")
        requests.upstream.send(String(bytes.prefix(20)))
        requests.upstream.send(String(bytes.dropFirst(20)))
        #expect(try requests.upstream.received().joined() == resp("SET", "k", "v"))
        #expect(try requests.answers() == String(repeating: "-LOADING Redis is loading the dataset in memory\r\n", count: 2))
        #expect(requests.upstream.actions.map(\.what) == ["answered matching commands with -LOADING Redis is loading the dataset in memory without forwarding them"])
        #expect(requests.client.isActive)
    }

    @Test func httpStatusAnswersOnlyRequestsWhoseMethodAndPathMatch() throws {
        let requests = try Requests(Toxic(type: .httpStatus, stream: .upstream, attributes: ["status": 503],
                                          requests: RequestCondition(["method": "POST", "path": "/api/*"])))
        let health = "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"
        let other = "POST /login?next=/api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
        requests.upstream.send(health + other + "POST /api/users?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        #expect(try requests.upstream.received().joined() == health + other)
        #expect(try requests.answers().hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(!requests.client.isActive)
    }

    @Test func pgErrorAnswersMatchingQueriesWithTheirSQLSTATE() throws {
        let requests = try Requests(Toxic(type: .pgError, stream: .upstream, attributes: ["sqlstate": "40001", "message": "could not serialize access"],
                                          requests: RequestCondition(["query": "UPDATE*"])))
        func query(_ sql: String) -> [UInt8] { PostgresProtocol.message("Q", Array(sql.utf8) + [0]) }
        let startup = PostgresProtocol.int32(8 + 14 + 1) + PostgresProtocol.int32(196_608) + Array("user\0postgres\0".utf8) + [0]
        let select = query("SELECT 1")
        requests.upstream.channel.writeAndFlush(ByteBuffer(bytes: startup + select + query("  update t set x = 1") + select), promise: nil)
        var forwarded: [UInt8] = []
        while let buffer = try requests.upstream.channel.readOutbound(as: ByteBuffer.self) { forwarded += buffer.readableBytesView }
        #expect(forwarded == startup + select + select)
        let answer = try requests.answers()
        #expect(Array(answer.utf8) == PostgresProtocol.errorResponse(sqlstate: "40001", message: "could not serialize access", ready: true))
        #expect(requests.upstream.actions.map(\.what) == ["answered matching queries with ERROR 40001 without forwarding them"])
    }

    @Test func dropAfterLetsThatManyExchangesPassThenDropsTheConnection() throws {
        let requests = try Requests(Toxic(type: .dropAfter, stream: .upstream, attributes: ["exchanges": 2]))
        requests.upstream.send("PING\r\n")
        requests.upstream.send(resp("PING"))
        #expect(try requests.upstream.received() == ["PING\r\n", resp("PING")])
        #expect(requests.client.isActive)
        requests.upstream.send(resp("GET", "k"))
        #expect(try requests.upstream.received() == [])
        #expect(!requests.client.isActive)
        #expect(requests.upstream.actions.map(\.what) == ["dropped the connection at request 3, after 2 exchanges"])
    }
}
