import Listening
import Logging
import Presentation
import NIOCore
import Recording
import WirelogTLS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one kind of recorded conversation (`serve`'s lab server, `mock`'s recorded answers) does
/// with a client; `RecordingHandler` does everything else. Every call runs on the channel's event
/// loop, and only while the connection is the handler's (open or finishing).
public protocol ConversationRole: AnyObject {
    /// The session's facts, from the accepted channel.
    func sessionInfo(for channel: any Channel) -> SessionInfo
    /// The connection is open and its tape made (the mock's greeting goes here).
    func started(_ conversation: RecordingHandler)
    /// One read from the client. The role records what it takes from it and answers through
    /// `conversation` (at once, or once the commit of what it answers is delivered).
    func received(_ bytes: ByteBuffer, _ conversation: RecordingHandler)
    /// Whether the role holds input that a quiet period completes (arms the quiet timer).
    var isHoldingInput: Bool { get }
    /// The client has been silent for the quiet period while the role held input.
    func inputWentQuiet(_ conversation: RecordingHandler)
    /// The client sends nothing more (it half-closed, or the process is shutting down): what the
    /// role holds is complete. The role finishes the conversation (typically with `reason`, once
    /// its replies are out) or carries it on elsewhere (`handOver`).
    func inputEnded(_ reason: EndReason, _ conversation: RecordingHandler)
    /// A commit failed. Replies waiting for it are dropped (nothing uncommitted may be
    /// acknowledged); the role may say so, then finish with `.storageError`.
    func recordingFailed(_ reason: String, _ conversation: RecordingHandler)
    /// Whether the role takes more input now, beyond the handler's own bounds.
    var mayRead: Bool { get }
    /// Whether the role answers with `sendWhenCommitted` (serve's replies wait for the commit of
    /// their command). A role that never waits lets the recorder gather its records into larger
    /// transactions (`SessionTape`'s `awaitsCommits`).
    var awaitsCommits: Bool { get }
}

extension ConversationRole {
    public func started(_ conversation: RecordingHandler) {}
    public var isHoldingInput: Bool { false }
    public func inputWentQuiet(_ conversation: RecordingHandler) {}
    public var mayRead: Bool { true }
    public var awaitsCommits: Bool { true }
    public func recordingFailed(_ reason: String, _ conversation: RecordingHandler) {
        conversation.finish(.storageError)
    }
}

/// The bounds and timers of a recorded conversation.
public struct ConversationLimits: Sendable {
    /// Reading pauses while this many recorded bytes wait for a commit.
    public var maxUncommittedBytes: Int
    /// Reading pauses while this many replies wait for the commit of what they answer.
    public var maxRepliesAwaitingCommit: Int
    /// How long a client's silence completes held input.
    public var quietPeriod: TimeAmount
    /// A client that sends nothing and has nothing to wait for this long is hung up on (zero: never).
    public var idleTimeout: TimeAmount

    public init(maxUncommittedBytes: Int, maxRepliesAwaitingCommit: Int = 1_024, quietPeriod: TimeAmount,
                idleTimeout: TimeAmount = .zero) {
        self.maxUncommittedBytes = maxUncommittedBytes
        self.maxRepliesAwaitingCommit = maxRepliesAwaitingCommit
        self.quietPeriod = quietPeriod
        self.idleTimeout = idleTimeout
    }
}

/// The one channel handler of a recorded server-side conversation. It owns the session's tape and
/// the commit → act step: a reply given with `sendWhenCommitted` leaves only once the commit of
/// what it answers is delivered, and a failed commit acknowledges nothing. It holds back the
/// outbound `read` while the client does not read its replies or too much waits for a commit, so
/// memory stays bounded; runs the quiet and idle timers; turns the connection's end (half-close,
/// shutdown, reset, error, TLS failure) into the session's end reason; and closes only after what
/// was written has gone out. What the conversation says is its `ConversationRole`'s.
public final class RecordingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State {
        /// Reading and answering.
        case open
        /// No more input is taken: the replies owed go out, then the connection closes with `reason`.
        case finishing(reason: EndReason, notBefore: NIODeadline?)
        case closed
        /// Another handler carries the connection on (`handOver`); the role ends the session.
        case handedOver
    }

    private struct ReplyAwaitingCommit {
        let answersSeq: Int64
        let bytes: [UInt8]
        let replyCode: Int?
    }

    private let role: any ConversationRole
    private let sink: (any RecordingSink)?
    private let limits: ConversationLimits
    public let logger: Logger

    private var state = State.open
    private var context: ChannelHandlerContext?
    private var sessionTape: SessionTape?
    private var repliesAwaitingCommit = CircularBuffer<ReplyAwaitingCommit>()
    private var needsFlush = false
    private var readGate = ReadGate()
    private var quietTimer: QuietTimer?
    private var idleTimer: Scheduled<Void>?
    private var lastActivity = NIODeadline.uptimeNanoseconds(0)
    private var tls: TLSLeg?
    /// The client's address, for log lines.
    public private(set) var clientDescription = "?"

    public init(role: any ConversationRole, sink: (any RecordingSink)?, limits: ConversationLimits, logger: Logger) {
        self.role = role
        self.sink = sink
        self.limits = limits
        self.logger = logger
    }

    /// The session's tape; made when the connection becomes active, before the role hears anything.
    public var tape: SessionTape { sessionTape! }

    public var eventLoop: any EventLoop { context!.eventLoop }

    /// Whether input is still taken (nothing has finished the conversation).
    public var isOpen: Bool {
        if case .open = state { return true }
        return false
    }

    // MARK: Lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        quietTimer = QuietTimer(period: limits.quietPeriod, eventLoop: context.eventLoop) { [weak self] in
            self?.quietPeriodPassed()
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        stopTimers()
        self.context = nil
    }

    public func channelActive(context: ChannelHandlerContext) {
        clientDescription = context.channel.remoteAddress?.displayString ?? "?"
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        sessionTape = SessionTape(sink: sink, info: role.sessionInfo(for: context.channel),
                                  delivery: .eventLoop(context.eventLoop), awaitsCommits: role.awaitsCommits) { outcome in
            loopBound.value.recorderReported(outcome)
        }
        lastActivity = context.eventLoop.now
        scheduleIdleTimer(after: limits.idleTimeout)
        role.started(self)
        afterRole()
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        // The client went away first (or a close that did not come from `finish`).
        if case .finishing(let reason, _) = state {
            endSession(reason)
        } else {
            endSession(.clientClosed)
        }
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        let reason: EndReason
        if let ioError = error as? IOError, ioError.errnoCode == ECONNRESET || ioError.errnoCode == EPIPE {
            reason = .reset
        } else {
            reason = .error
            logger.debug("connection from \(clientDescription) failed: \(error)")
        }
        endSession(reason)
        context.close(promise: nil)
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed:
            // Half-close: what was sent is complete; answer it, then close.
            endOfInput(.clientClosed)
        case is ChannelShouldQuiesceEvent:
            endOfInput(.shutdown)
        case let event as TLSEvent:
            tlsEvent(event)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func tlsEvent(_ event: TLSEvent) {
        switch event {
        case .clientHello:
            return
        case .established(let leg):
            tls = leg
        case .failed(let leg):
            tls = leg
            logger.info("TLS handshake with \(clientDescription) failed: \(leg.failure ?? "?")")
        case .closed(let closure):
            tls?.closedWith = closure
        }
        if let tls { sessionTape?.noteTLS(TLSDetails(client: tls)) }
        // The observer closes the channel after a failure.
        if case .failed = event { endSession(.tlsHandshakeFailed) }
    }

    // MARK: Input

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard case .open = state, let tape = sessionTape else {
            if case .handedOver = state { context.fireChannelRead(data) }
            return
        }
        tape.countWireBytes(buffer.readableBytes, from: .client)
        lastActivity = context.eventLoop.now
        quietTimer?.inputArrived()
        role.received(buffer, self)
        afterRole()
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    private func quietPeriodPassed() {
        guard case .open = state, role.isHoldingInput else { return }
        role.inputWentQuiet(self)
        afterRole()
    }

    private func endOfInput(_ reason: EndReason) {
        guard case .open = state else { return }
        quietTimer?.cancel()
        role.inputEnded(reason, self)
        afterRole()
    }

    /// After the role acted: replies already committed go out, the quiet timer follows what the
    /// role holds, a finished conversation closes once drained.
    private func afterRole() {
        sendCommittedReplies()
        if case .open = state, role.isHoldingInput {
            quietTimer?.arm()
        }
        closeIfDrained()
        flushIfNeeded()
    }

    // MARK: Output

    /// Records `bytes` as the server's and writes them now (`buffer`: the same bytes, when the
    /// caller already has them in one). Unrecorded: what is said after the recording failed.
    public func send(_ bytes: [UInt8], buffer: ByteBuffer? = nil, replyCode: Int? = nil, answeredBy: Int64? = nil,
                     recorded: Bool = true) {
        guard let context, let tape = sessionTape, !bytes.isEmpty, !isGone else { return }
        tape.countWireBytes(bytes.count, from: .server)
        if recorded { tape.record(.server, bytes, replyCode: replyCode, answeredBy: answeredBy) }
        write(buffer ?? context.channel.allocator.buffer(bytes: bytes), context: context)
    }

    /// Sends `bytes` once every message up to `seq` (what they answer) is committed: at once when
    /// it already is, or when the recorder says so. Replies keep their order.
    public func sendWhenCommitted(_ bytes: [UInt8], replyCode: Int?, answering seq: Int64) {
        repliesAwaitingCommit.append(ReplyAwaitingCommit(answersSeq: seq, bytes: bytes, replyCode: replyCode))
    }

    private func sendCommittedReplies() {
        guard let context, let tape = sessionTape, let first = repliesAwaitingCommit.first,
              first.answersSeq <= tape.committedThroughSeq else { return }
        // One write for all of them: a pipelining client's replies leave together.
        var out = context.channel.allocator.buffer(capacity: 64)
        while let next = repliesAwaitingCommit.first, next.answersSeq <= tape.committedThroughSeq {
            repliesAwaitingCommit.removeFirst()
            out.writeBytes(next.bytes)
            tape.countWireBytes(next.bytes.count, from: .server)
            tape.record(.server, next.bytes, replyCode: next.replyCode)
        }
        write(out, context: context)
        resumeReading()
    }

    /// Writes what the server says; flushed once the entry point that said it is done.
    private func write(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(buffer), promise: nil)
        needsFlush = true
        lastActivity = context.eventLoop.now
    }

    private func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    /// Runs `body` at `deadline` (a paced reply, say), unless the connection has gone by then.
    public func schedule(at deadline: NIODeadline, _ body: @escaping (RecordingHandler) -> Void) {
        guard let context else { return }
        let loopBound = NIOLoopBound((self, body), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, body) = loopBound.value
            guard !handler.isGone else { return }
            body(handler)
            handler.afterRole()
        }
    }

    // MARK: Finishing

    /// Takes no more input: once the replies owed are out (and not before `notBefore`, when the
    /// last paced reply leaves), closes the connection and ends the session with `reason`.
    public func finish(_ reason: EndReason, notBefore: NIODeadline? = nil) {
        guard case .open = state else { return }
        state = .finishing(reason: reason, notBefore: notBefore)
        quietTimer?.cancel()
    }

    private func closeIfDrained() {
        guard case .finishing(let reason, let notBefore) = state, repliesAwaitingCommit.isEmpty, let context else { return }
        if let notBefore, context.eventLoop.now < notBefore {
            state = .finishing(reason: reason, notBefore: nil)
            schedule(at: notBefore) { _ in }
            return
        }
        endSession(reason)
        // An empty write completes after every write before it: close only once they are out.
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
            loopBound.value.close(promise: nil)
        }
    }

    /// The conversation goes on in another handler: `install` puts it in the pipeline (after this
    /// one, which then leaves). From here on the role ends the session; reads pass on untouched.
    public func handOver(_ install: (ChannelHandlerContext) throws -> Void) throws {
        guard let context else { return }
        // Handed over before installing: the new handler's first `read` must pass through here,
        // not be held back by a gate that leaves with this handler (the client would go unread).
        state = .handedOver
        stopTimers()
        do {
            try install(context)
        } catch {
            state = .open
            throw error
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// Ends the session now with `reason` and closes the connection.
    public func close(_ reason: EndReason) {
        endSession(reason)
        context?.close(promise: nil)
    }

    private var isGone: Bool {
        switch state {
        case .closed, .handedOver: true
        case .open, .finishing: false
        }
    }

    private func endSession(_ reason: EndReason) {
        guard !isGone else { return }
        state = .closed
        stopTimers()
        repliesAwaitingCommit.removeAll()
        sessionTape?.end(reason)
    }

    private func stopTimers() {
        quietTimer?.cancel()
        idleTimer?.cancel()
        idleTimer = nil
    }

    // MARK: Recording outcomes

    private func recorderReported(_ outcome: CommitOutcome) {
        guard !isGone, let tape = sessionTape else { return }
        tape.apply(outcome)
        switch outcome {
        case .committed:
            resumeReading()
        case .failed(let reason):
            // The recorder has logged the failure (an outage once); one line per connection would flood.
            logger.debug("closing the connection from \(clientDescription): what it sent could not be recorded (\(reason))")
            repliesAwaitingCommit.removeAll()
            role.recordingFailed(reason, self)
            if case .open = state { finish(.storageError) }
        }
        afterRole()
    }

    // MARK: Flow control

    private var mayRead: Bool {
        guard case .open = state, let tape = sessionTape else { return false }
        return tape.uncommittedBytes < limits.maxUncommittedBytes
            && repliesAwaitingCommit.count < limits.maxRepliesAwaitingCommit
            && role.mayRead
    }

    public func read(context: ChannelHandlerContext) {
        if case .handedOver = state {
            context.read()
        } else {
            readGate.read(context: context, allowed: mayRead)
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReading()
        context.fireChannelWritabilityChanged()
    }

    /// Lets a held-back read through if nothing holds it any more (the role's `mayRead` changed, say).
    public func resumeReading() {
        guard let context else { return }
        readGate.reopen(context: context, allowed: mayRead)
    }

    // MARK: Idle timeout

    private func scheduleIdleTimer(after delay: TimeAmount) {
        guard limits.idleTimeout > .zero, let context else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(in: delay) {
            loopBound.value.idleTimerFired()
        }
    }

    private func idleTimerFired() {
        guard !isGone, let context else { return }
        let idleFor = context.eventLoop.now - lastActivity
        // Waiting on our own commit is not the client being idle.
        if idleFor < limits.idleTimeout || !repliesAwaitingCommit.isEmpty {
            scheduleIdleTimer(after: max(limits.idleTimeout - idleFor, .milliseconds(10)))
            return
        }
        logger.info("closing the connection from \(clientDescription): idle for \(DurationText.micros(idleFor.nanoseconds / 1_000)) (--idle-timeout)")
        close(.idleTimeout)
    }
}
