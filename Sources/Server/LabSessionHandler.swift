import LabProtocol
import Listening
import Logging
import NIOCore
import NIORecording
import Presentation
import Recording
import WirelogTLS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One client connection of `wirelog serve`: frames lines, answers lab commands, and
/// records every command and reply. A reply leaves only after its command is committed.
///
/// Reading stops (the outbound `read` is held back) while the client does not read its
/// replies or while too many of its bytes wait for a commit, so memory stays bounded.
final class LabSessionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    private enum State {
        /// Reading and answering commands.
        case open
        /// No more commands (QUIT, input closed, shutdown, line too long): answer what
        /// is pending, then close with `reason`.
        case draining(reason: EndReason)
        case closed
    }

    private struct PendingReply {
        let commandSeq: Int64
        let commandBytes: Int
        let reply: LabReply
    }

    private let configuration: ServerConfiguration
    private let replies: LabReplies
    private let sink: (any RecordingSink)?
    private let logger: Logger

    private var state = State.open
    private var splitter: LineSplitter
    private var parser = LabCommandParser()
    /// Made when the connection becomes active (it needs the addresses).
    private var tape: SessionTape?
    private var pendingReplies = CircularBuffer<PendingReply>()
    private var unacknowledgedBytes = 0
    /// The client's TLS, once its handshake finished or failed.
    private var tls: TLSLeg?

    private var readGate = ReadGate()
    private var quietTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?
    private var lastActivity = NIODeadline.now()

    init(configuration: ServerConfiguration, replies: LabReplies, sink: (any RecordingSink)?, logger: Logger) {
        self.configuration = configuration
        self.replies = replies
        self.sink = configuration.recording ? sink : nil
        self.logger = logger
        self.splitter = LineSplitter(maxLineLength: configuration.maxLineLength)
    }

    // MARK: Lifecycle

    func channelActive(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        tape = SessionTape(
            sink: sink, info: .served(channel: context.channel, recorder: configuration.recorderName),
            delivery: .eventLoop(context.eventLoop)) { outcome in
            let (handler, context) = loopBound.value
            handler.recorderReported(outcome, context: context)
        }
        scheduleIdleTimer(context: context, after: configuration.idleTimeout)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The peer went away first (or a close that did not come from `finish`).
        endSession(reason: .clientClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let reason: EndReason
        if let ioError = error as? IOError, ioError.errnoCode == ECONNRESET || ioError.errnoCode == EPIPE {
            reason = .reset
        } else {
            reason = .error
            logger.debug("connection error: \(error)")
        }
        endSession(reason: reason)
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed:
            // Half-close: what was sent is complete; answer it, then close.
            endOfInput(context: context, reason: .clientClosed)
        case is ChannelShouldQuiesceEvent:
            endOfInput(context: context, reason: .shutdown)
        case let event as TLSEvent:
            tlsEvent(event, context: context)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func tlsEvent(_ event: TLSEvent, context: ChannelHandlerContext) {
        switch event {
        case .clientHello:
            return
        case .established(let leg):
            tls = leg
        case .failed(let leg):
            tls = leg
            logger.info("TLS handshake with \(clientDescription(context)) failed: \(leg.failure ?? "?")")
        case .closed(let closure):
            tls?.closedWith = closure
        }
        if let tls { tape?.noteTLS(TLSDetails(client: tls)) }
        // The observer closes the channel after a failure.
        if case .failed = event { endSession(reason: .tlsHandshakeFailed) }
    }

    // MARK: Input

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard case .open = state, let tape else { return }
        tape.countWireBytes(buffer.readableBytes, from: .client)
        lastActivity = .now()
        quietTimer?.cancel()
        quietTimer = nil
        buffer.withUnsafeReadableBytes { bytes in
            splitter.feed(bytes) { piece in handle(piece, context: context) }
        }
        if case .open = state, splitter.pendingByteCount > 0 || parser.isAwaitingPayload,
           configuration.framing == .auto {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            quietTimer = context.eventLoop.scheduleTask(in: configuration.quietPeriod) {
                let (handler, context) = loopBound.value
                handler.quietPeriodPassed(context: context)
            }
        }
        afterInput(context: context)
    }

    private func quietPeriodPassed(context: ChannelHandlerContext) {
        quietTimer = nil
        guard case .open = state else { return }
        // An unterminated line followed by silence is a whole command (lab clients send no LF).
        splitter.flush { piece in handle(piece, context: context) }
        afterInput(context: context)
    }

    private func handle(_ piece: LinePiece, context: ChannelHandlerContext) {
        guard case .open = state else { return }
        if piece.kind == .overlong {
            // After a bare DATA the overlong line is its payload: one command, one reply, no byte left out.
            let raw = parser.takeAwaitingDataLine() + piece.raw
            raw.withUnsafeBytes {
                command(raw: $0, verb: nil, payloadRange: nil, reply: .lineTooLong(limit: configuration.maxLineLength))
            }
            state = .draining(reason: .lineTooLong)
            logger.info("closing the connection from \(clientDescription(context)): a line longer than \(counted(configuration.maxLineLength, "byte")) (--max-line)")
            return
        }
        parser.parse(piece) { step in
            guard case .command(let command, let raw) = step else { return }
            self.command(raw: raw, verb: command.verbText, payloadRange: command.payloadRange, reply: command.reply)
            if command.verb == .quit { state = .draining(reason: .quit) }
        }
    }

    /// Records a client command and queues its reply behind the commit.
    private func command(raw: UnsafeRawBufferPointer, verb: String?, payloadRange: Range<Int>?, reply: LabReply) {
        guard let tape else { return }
        let seq = tape.record(.client, Array(raw), verb: verb, payloadRange: payloadRange)
        unacknowledgedBytes += raw.count
        pendingReplies.append(PendingReply(commandSeq: seq, commandBytes: raw.count, reply: reply))
    }

    private func endOfInput(context: ChannelHandlerContext, reason: EndReason) {
        guard case .open = state else { return }
        quietTimer?.cancel()
        quietTimer = nil
        // What was received counts: a partial line and a bare DATA are answered too.
        splitter.flush { piece in handle(piece, context: context) }
        if case .open = state {
            parser.finish { command, raw in
                self.command(raw: raw, verb: command.verbText, payloadRange: nil, reply: command.reply)
            }
        }
        if case .open = state { state = .draining(reason: reason) }
        afterInput(context: context)
    }

    private func afterInput(context: ChannelHandlerContext) {
        sendCommittedReplies(context: context)
        finishIfDrained(context: context)
    }

    // MARK: Output

    private func recorderReported(_ outcome: CommitOutcome, context: ChannelHandlerContext) {
        guard !isClosed, let tape else { return }
        tape.apply(outcome)
        switch outcome {
        case .committed:
            sendCommittedReplies(context: context)
            finishIfDrained(context: context)
        case .failed(let reason):
            // Nothing uncommitted may be acknowledged: tell the client and hang up.
            // The recorder has logged the failure (an outage once); one line per connection would flood.
            logger.debug("closing connection: its commands could not be recorded (\(reason))")
            pendingReplies.removeAll()
            let bytes = replies.bytes(for: .notRecorded)
            tape.countWireBytes(bytes.count, from: .server)
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
            state = .draining(reason: .storageError)
            finishIfDrained(context: context)
        }
    }

    private var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    private func sendCommittedReplies(context: ChannelHandlerContext) {
        guard let tape, let first = pendingReplies.first, first.commandSeq <= tape.committedThroughSeq else { return }
        var out = context.channel.allocator.buffer(capacity: 64)
        while let next = pendingReplies.first, next.commandSeq <= tape.committedThroughSeq {
            pendingReplies.removeFirst()
            unacknowledgedBytes -= next.commandBytes
            let bytes = replies.bytes(for: next.reply)
            out.writeBytes(bytes)
            tape.countWireBytes(bytes.count, from: .server)
            tape.record(.server, bytes, replyCode: next.reply.code)
        }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        lastActivity = .now()
        resumeReadingIfAllowed(context: context)
    }

    private func finishIfDrained(context: ChannelHandlerContext) {
        guard case .draining(let reason) = state, pendingReplies.isEmpty else { return }
        endSession(reason: reason)
        context.close(promise: nil)
    }

    private func endSession(reason: EndReason) {
        guard !isClosed else { return }
        state = .closed
        quietTimer?.cancel()
        idleTimer?.cancel()
        tape?.end(reason)
    }

    // MARK: Flow control

    private var mayRead: Bool {
        guard case .open = state else { return false }
        return unacknowledgedBytes < configuration.maxUnacknowledgedBytes
            && pendingReplies.count < configuration.maxUnacknowledgedCommands
    }

    func read(context: ChannelHandlerContext) {
        readGate.read(context: context, allowed: mayRead)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReadingIfAllowed(context: context)
        context.fireChannelWritabilityChanged()
    }

    private func resumeReadingIfAllowed(context: ChannelHandlerContext) {
        readGate.reopen(context: context, allowed: mayRead)
    }

    private func clientDescription(_ context: ChannelHandlerContext) -> String {
        context.channel.remoteAddress?.displayString ?? "?"
    }

    // MARK: Idle timeout

    private func scheduleIdleTimer(context: ChannelHandlerContext, after delay: TimeAmount) {
        guard configuration.idleTimeout > .zero else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            handler.idleTimerFired(context: context)
        }
    }

    private func idleTimerFired(context: ChannelHandlerContext) {
        guard !isClosed else { return }
        let idleFor = NIODeadline.now() - lastActivity
        // Waiting on our own commit is not the client being idle.
        if idleFor < configuration.idleTimeout || !pendingReplies.isEmpty {
            scheduleIdleTimer(context: context, after: max(configuration.idleTimeout - idleFor, .milliseconds(10)))
            return
        }
        logger.info("closing the connection from \(clientDescription(context)): idle for \(DurationText.micros(idleFor.nanoseconds / 1_000)) (--idle-timeout)")
        endSession(reason: .idleTimeout)
        context.close(promise: nil)
    }
}

extension SessionInfo {
    static func served(channel: Channel, recorder: String, startedMicros: Int64 = WallClock.nowMicros()) -> SessionInfo {
        SessionInfo(
            kind: .server, decoding: .lab, recorder: recorder,
            clientHost: channel.remoteAddress?.ipAddress ?? "unknown", clientPort: channel.remoteAddress?.port ?? 0,
            serverHost: channel.localAddress?.ipAddress ?? "unknown", serverPort: channel.localAddress?.port ?? 0,
            startedMicros: startedMicros)
    }
}
