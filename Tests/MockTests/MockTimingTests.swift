import Logging
@testable import Mock
import NIOCore
import NIOEmbedded
import Recording
import Testing

/// The mock's timers on an `EmbeddedChannel` with a virtual clock: the quiet period and `--pace`.
@Suite struct MockTimingTests {
    private static func script(_ exchanges: [(request: String, reply: String, afterMicros: Int64)]) throws -> MockScript {
        var messages: [StoredMessage] = []
        var at: Int64 = 1_000_000
        for exchange in exchanges {
            let id = Int64(messages.count + 1)
            messages.append(StoredMessage(id: id, sessionID: 1, seq: id, atMicros: at, sender: .client,
                                          raw: Array(exchange.request.utf8), verb: nil, payload: nil, replyCode: nil))
            messages.append(StoredMessage(id: id + 1, sessionID: 1, seq: id + 1, atMicros: at + exchange.afterMicros, sender: .server,
                                          raw: Array(exchange.reply.utf8), verb: nil, payload: nil, replyCode: nil))
            at += 1_000_000
        }
        let summary = SessionSummary(id: 1, kind: "proxy", decoding: "raw", recorder: "test", clientHost: "127.0.0.1", clientPort: 1,
                                     serverHost: "127.0.0.1", serverPort: 2, startedMicros: 0, endedMicros: at, endReason: "client_closed",
                                     bytesFromClient: 0, bytesFromServer: 0, messageCount: Int64(messages.count), replayOf: nil)
        return try MockScript([(summary, messages)], order: .any)
    }

    /// A session that never said a byte (a port probe, recorded undecoded) does not turn the
    /// sessions that did into bytes to match.
    @Test func aSilentSessionLeavesTheOthersDecoding() throws {
        func summary(_ id: Int64, _ decoding: String) -> SessionSummary {
            SessionSummary(id: id, kind: "proxy", decoding: decoding, recorder: "test", clientHost: "127.0.0.1", clientPort: 1,
                           serverHost: "127.0.0.1", serverPort: 2, startedMicros: 0, endedMicros: 1, endReason: "client_closed",
                           bytesFromClient: 0, bytesFromServer: 0, messageCount: 0, replayOf: nil)
        }
        let request = StoredMessage(id: 1, sessionID: 2, seq: 1, atMicros: 1, sender: .client,
                                    raw: Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8), verb: "GET", payload: nil, replyCode: nil)
        let script = try MockScript([(summary(1, "raw"), []), (summary(2, "http"), [request])], order: .any)
        #expect(script.decoding == Decoding("http"))
        #expect(try MockScript([(summary(1, "raw"), [request]), (summary(2, "http"), [request])], order: .any).decoding == .raw)
    }

    private static func channel(_ script: MockScript, configure: (inout MockConfiguration) -> Void = { _ in }) throws -> EmbeddedChannel {
        var configuration = MockConfiguration()
        configure(&configuration)
        let logger = Logger(label: "test.mock") { _ in SwiftLogNoOpLogHandler() }
        let conversation = MockConversation(configuration: configuration, script: script, fieldMatching: nil, connectionNumber: 0, sink: nil, logger: logger)
        let channel = EmbeddedChannel(handler: MockConversation.handler(conversation, configuration: configuration, sink: nil, logger: logger))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    private static func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    /// Bytes that match a request but also begin a longer one wait for the quiet period; then
    /// the request they match is answered.
    @Test func bytesThatCouldGrowIntoALongerRequestWaitForTheQuietPeriod() throws {
        let channel = try Self.channel(try Self.script([("PING", "+PONG\r\n", 0), ("PINGS", "+PONGS\r\n", 0)]))
        try channel.writeInbound(ByteBuffer(string: "PING"))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(199))
        #expect(try Self.written(channel) == "")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try Self.written(channel) == "+PONG\r\n")
        try channel.writeInbound(ByteBuffer(string: "PINGS"))
        #expect(try Self.written(channel) == "+PONGS\r\n", "nothing longer begins with PINGS: answered at once")
        #expect(channel.isActive)
    }

    /// Bytes that only begin a request are a miss once the quiet period passes: the default miss closes.
    @Test func anUnfinishedRequestIsAMissAfterTheQuietPeriod() throws {
        let channel = try Self.channel(try Self.script([("PING\r\n", "+PONG\r\n", 0)]))
        try channel.writeInbound(ByteBuffer(string: "PI"))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(199))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try Self.written(channel) == "")
        #expect(!channel.isActive)
    }

    /// `--pace recorded` keeps the recorded delay; `x2` halves it; `none` answers at once.
    @Test(arguments: [("recorded", 50), ("x2", 25), ("none", 0)])
    func paceKeepsOrScalesTheRecordedDelay(_ pace: String, _ delayMilliseconds: Int64) throws {
        let channel = try Self.channel(try Self.script([("GET\n", "value\n", 50_000)])) { $0.pace = MockPace(argument: pace)! }
        try channel.writeInbound(ByteBuffer(string: "GET\n"))
        if delayMilliseconds > 0 {
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(delayMilliseconds - 1))
            #expect(try Self.written(channel) == "")
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        }
        #expect(try Self.written(channel) == "value\n")
    }
}
