import Logging
import NIOCore
import NIOEmbedded
import NIORecording
import NIOConcurrencyHelpers
import Recording
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The duplex recording handler on an `EmbeddedChannel` with a virtual clock and a sink whose
/// commits the test delivers: commit → act, bounded reads, the quiet and idle timers, and how
/// the connection's end becomes the session's.
@Suite struct RecordingHandlerTests {
    /// Answers each line with `ok <line>` once the line is committed; an unterminated line is
    /// complete after the quiet period; at the end of input, finishes with its reason.
    final class LineRole: ConversationRole {
        var held: [UInt8] = []
        var failures: [String] = []

        func sessionInfo(for channel: any Channel) -> SessionInfo {
            SessionInfo(kind: .server, decoding: .lines, recorder: "test", clientHost: "127.0.0.1", clientPort: 1,
                        serverHost: "127.0.0.1", serverPort: 2, startedMicros: 0)
        }

        func received(_ bytes: ByteBuffer, _ conversation: RecordingHandler) {
            held += bytes.readableBytesView
            while let end = held.firstIndex(of: 0x0A) {
                answer(Array(held[...end]), conversation)
                held.removeFirst(end + 1)
            }
        }

        var isHoldingInput: Bool { !held.isEmpty }

        func inputWentQuiet(_ conversation: RecordingHandler) {
            answer(held, conversation)
            held.removeAll()
        }

        func inputEnded(_ reason: EndReason, _ conversation: RecordingHandler) {
            if !held.isEmpty { inputWentQuiet(conversation) }
            conversation.finish(reason)
        }

        func recordingFailed(_ reason: String, _ conversation: RecordingHandler) {
            failures.append(reason)
            conversation.send(Array("not recorded\n".utf8), recorded: false)
            conversation.finish(.storageError)
        }

        private func answer(_ line: [UInt8], _ conversation: RecordingHandler) {
            let seq = conversation.tape.record(.client, line)
            conversation.sendWhenCommitted(Array("ok ".utf8) + line, replyCode: nil, answering: seq)
        }
    }

    /// Keeps what it is given; commits (or fails) when the test says.
    final class HeldCommitsSink: RecordingSink, @unchecked Sendable {
        private(set) var sessions: [RecordingSession] = []
        private(set) var messages: [RecordedMessage] = []
        private(set) var ends: [SessionEnd] = []
        var redactor: Redactor? { nil }

        func begin(_ session: RecordingSession) { sessions.append(session) }
        func append(_ session: RecordingSession, _ message: RecordedMessage) { messages.append(message) }
        func noteTLS(_ session: RecordingSession, _ tls: TLSDetails) {}
        func noteFaults(_ session: RecordingSession, _ faults: [FaultRecord]) {}
        func end(_ session: RecordingSession, _ end: SessionEnd) { ends.append(end) }
        func shutdown() async {}

        func deliver(_ outcome: CommitOutcome) {
            for session in sessions {
                session.delivery.schedule { session.onCommit(outcome) }
            }
        }

        func commitAll() { deliver(.committed(throughSeq: messages.last?.seq ?? 0)) }
        var recorded: [String] { messages.map { "\($0.sender): \(String(decoding: $0.raw, as: UTF8.self))" } }
    }

    /// Counts the reads that get past the recording handler.
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        let reads = NIOLockedValueBox(0)
        func read(context: ChannelHandlerContext) {
            reads.withLockedValue { $0 += 1 }
            context.read()
        }
    }

    struct Fixture {
        let channel = EmbeddedChannel()
        let sink = HeldCommitsSink()
        let role = LineRole()
        let reads = ReadCounter()
        var loop: EmbeddedEventLoop { channel.embeddedEventLoop }

        init(maxUncommittedBytes: Int = 1 << 20, idleTimeout: TimeAmount = .zero) throws {
            let limits = ConversationLimits(maxUncommittedBytes: maxUncommittedBytes, quietPeriod: .milliseconds(200),
                                            idleTimeout: idleTimeout)
            let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
            try channel.pipeline.syncOperations.addHandler(reads)
            try channel.pipeline.syncOperations.addHandler(RecordingHandler(role: role, sink: sink, limits: limits, logger: logger))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        func send(_ text: String) throws { try channel.writeInbound(ByteBuffer(string: text)) }

        func written() throws -> String {
            var text = ""
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
            return text
        }

        func commit() {
            sink.commitAll()
            loop.run()
        }
    }

    @Test func aReplyLeavesOnlyOnceWhatItAnswersIsCommitted() throws {
        let fixture = try Fixture()
        try fixture.send("one\ntwo\n")
        #expect(try fixture.written() == "", "nothing is acknowledged before its commit")
        fixture.commit()
        #expect(try fixture.written() == "ok one\nok two\n")
        #expect(fixture.sink.recorded == ["client: one\n", "client: two\n", "server: ok one\n", "server: ok two\n"])
    }

    @Test func aFailedCommitAcknowledgesNothingAndEndsTheSession() throws {
        let fixture = try Fixture()
        try fixture.send("one\n")
        fixture.sink.deliver(.failed(reason: "disk full"))
        fixture.loop.run()
        #expect(try fixture.written() == "not recorded\n", "the role's word, never the pending reply")
        #expect(fixture.role.failures == ["disk full"])
        #expect(!fixture.channel.isActive)
        #expect(fixture.sink.ends.map(\.reason) == [.storageError])
    }

    @Test func readsWaitWhileTooMuchWaitsForACommit() throws {
        let fixture = try Fixture(maxUncommittedBytes: 8)
        let before = fixture.reads.reads.withLockedValue { $0 }
        fixture.channel.read()
        #expect(fixture.reads.reads.withLockedValue { $0 } == before + 1)
        try fixture.send("0123456789\n")
        fixture.channel.read()
        #expect(fixture.reads.reads.withLockedValue { $0 } == before + 1, "11 bytes wait for a commit: the read is held back")
        fixture.commit()
        #expect(fixture.reads.reads.withLockedValue { $0 } == before + 2, "the commit lets the held read through")
    }

    @Test func heldInputIsCompleteAfterAQuietPeriodCountedFromTheLastRead() throws {
        let fixture = try Fixture()
        try fixture.send("HEL")
        fixture.loop.advanceTime(by: .milliseconds(150))
        try fixture.send("LO")
        fixture.loop.advanceTime(by: .milliseconds(199))
        #expect(fixture.sink.messages.isEmpty, "150 + 199 ms: still inside the quiet period of the second read")
        fixture.loop.advanceTime(by: .milliseconds(1))
        #expect(fixture.sink.recorded == ["client: HELLO"])
    }

    @Test func theEndOfInputAnswersWhatWasHeldThenClosesWithItsReason() throws {
        let fixture = try Fixture()
        try fixture.send("last")
        fixture.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(fixture.channel.isActive, "the reply still waits for its commit")
        fixture.commit()
        #expect(try fixture.written() == "ok last")
        #expect(!fixture.channel.isActive)
        #expect(fixture.sink.ends.map(\.reason) == [.clientClosed])
    }

    @Test func anIdleClientIsHungUpOnButNotWhileItWaitsForUs() throws {
        let fixture = try Fixture(idleTimeout: .seconds(10))
        try fixture.send("one\n")
        fixture.loop.advanceTime(by: .seconds(11))
        #expect(fixture.channel.isActive, "its reply waits for our commit: not idle")
        fixture.commit()
        fixture.loop.advanceTime(by: .seconds(9))
        #expect(fixture.channel.isActive)
        fixture.loop.advanceTime(by: .seconds(2))
        #expect(!fixture.channel.isActive)
        #expect(fixture.sink.ends.map(\.reason) == [.idleTimeout])
    }

    @Test func aResetEndsTheSessionAsReset() throws {
        let fixture = try Fixture()
        fixture.channel.pipeline.fireErrorCaught(IOError(errnoCode: ECONNRESET, reason: "read"))
        #expect(!fixture.channel.isActive)
        #expect(fixture.sink.ends.map(\.reason) == [.reset])
    }
}
