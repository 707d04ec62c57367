import LabProtocol
import Listening
import Logging
import NIOCore
import NIORecording
import Protocols
import Proxy
import Recording
import Replay

/// One client connection of `wirelog mock`: sends the recorded greeting, holds the client's
/// bytes until they are a recorded request (or, with line or lab framing, a whole line or
/// command), answers with that request's recorded replies, and records the conversation as a
/// session of kind mock whose messages name the recorded ones they stand for. After a miss with
/// `--on-miss upstream` it hands the connection over to the proxy's glue (`ProxyConnection`),
/// which carries it on to the real server and records the capture.
///
/// Memory is bounded: unmatched bytes by `maxLineLength` (then they are a miss), recorded bytes
/// waiting for a commit and replies a slow reader has not taken by holding back the outbound `read`.
final class MockConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let configuration: MockConfiguration
    private let sink: (any RecordingSink)?
    private let logger: Logger
    private let script: MockScript
    private var matcher: RequestMatcher
    private let lineFraming: Bool
    /// Cuts client bytes into lines or lab commands (`line` and `lab` framing).
    private var decoder: MessageStream
    /// What one step of the decoder cut, answered after it (reused: no allocation per read).
    private var cut: [DecodedMessage] = []
    /// Client bytes not matched yet (`recorded` framing).
    private var pending: [UInt8] = []
    private var tape: SessionTape?
    private var clientDescription = "?"
    /// Set by a miss with `--on-miss upstream` until the handover: what the client sent from the
    /// miss on (the missed bytes first), for the real server.
    private var forUpstream: [UInt8]?
    private var inputClosedBeforeHandover = false
    /// The connection from the handover on: the proxy's glue, to the `--on-miss upstream` server.
    private(set) var proxied: ProxyConnection?

    /// Set once the mock decided to close (a recorded close, a miss, the client's end of input,
    /// shutdown): nothing more is read or answered.
    private var closing: EndReason?
    /// The connection closed, or was handed over.
    private var ended = false
    private var needsFlush = false
    private var readGate = ReadGate()
    private var lastReadAt = NIODeadline.uptimeNanoseconds(0)
    private var quietTimer: Scheduled<Void>?
    /// With `--pace recorded`: when the last reply scheduled so far goes out (replies keep their order).
    private var lastSendAt = NIODeadline.uptimeNanoseconds(0)

    init(configuration: MockConfiguration, script: MockScript, connectionNumber: Int,
         sink: (any RecordingSink)?, logger: Logger) {
        self.configuration = configuration
        self.sink = sink
        self.logger = logger
        // `MockConfiguration.mask` checked the patterns.
        let masking = (try? Masking(patterns: configuration.ignore)) ?? .none
        matcher = RequestMatcher(script: script, order: configuration.order, masking: masking, connectionNumber: connectionNumber)
        lineFraming = configuration.framing != .recorded
        let limits = DecoderLimits(maxLineLength: configuration.maxLineLength)
        let framing: any WireProtocol.Type = configuration.framing == .lab ? LabWireProtocol.self : LinesProtocol.self
        decoder = MessageStream(decoder: framing.makeDecoders(limits: limits).client, limits: limits)
        self.script = script
    }

    // MARK: Lifecycle

    func channelActive(context: ChannelHandlerContext) {
        clientDescription = context.channel.remoteAddress?.displayString ?? "?"
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        tape = SessionTape(sink: sink, info: .mocked(channel: context.channel, configuration, script: script),
                           delivery: .eventLoop(context.eventLoop)) { outcome in
            let (handler, context) = loopBound.value
            handler.recorderReported(outcome, context: context)
        }
        let (greeting, thenClose) = matcher.greeting
        send(greeting, context: context)
        flushIfNeeded(context: context)
        if let thenClose { close(thenClose, context: context) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        quietTimer?.cancel()
        ended = true
        tape?.end(closing ?? .clientClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if closing == nil { closing = .reset }
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed:
            // What the client sent is complete: answer it, then close; or, after a miss that goes
            // upstream, the real server hears it after the bytes and decides when to close.
            if lineFraming {
                decode(context: context) { decoder, emit in decoder.finish(emit) }
            } else {
                matchPending(context: context, complete: true)
            }
            if forUpstream != nil {
                inputClosedBeforeHandover = true
            } else {
                close(.clientClosed, context: context)
            }
        case is ChannelShouldQuiesceEvent:
            close(.shutdown, context: context)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: Reading and answering

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        tape?.countWireBytes(buffer.readableBytes, from: .client)
        if forUpstream != nil {
            keepForUpstream(Array(buffer.readableBytesView))
            return
        }
        guard closing == nil else { return }
        lastReadAt = context.eventLoop.now
        if lineFraming {
            decode(context: context) { decoder, emit in decoder.feed(buffer, emit) }
        } else {
            pending.append(contentsOf: buffer.readableBytesView)
            matchPending(context: context, complete: false)
        }
        scheduleQuietTimer(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded(context: context)
        context.fireChannelReadComplete()
    }

    /// Answers every recorded request at the start of `pending`; with `complete`, what is left
    /// after them is a miss.
    private func matchPending(context: ChannelHandlerContext, complete: Bool) {
        while closing == nil, !pending.isEmpty {
            switch matcher.match(pending, complete: complete || pending.count > configuration.maxLineLength) {
            case .answer(let turn, let length):
                answer(Array(pending[..<length]), with: turn, context: context)
                pending.removeFirst(length)
            case .waitForMore:
                return
            case .miss(let closest, let differsAt):
                let missed = pending
                pending.removeAll()
                miss(missed, closest: closest, differsAt: differsAt, context: context)
            }
        }
        flushIfNeeded(context: context)
    }

    /// Runs `step` on the decoder, then answers each line or command it cut, in order.
    private func decode(context: ChannelHandlerContext, _ step: (inout MessageStream, (DecodedMessage) -> Void) -> Void) {
        step(&decoder) { cut.append($0) }
        for message in cut { answerWhole(Array(message.raw.readableBytesView), context: context) }
        cut.removeAll(keepingCapacity: true)
        // A miss that goes upstream: what the decoder still holds goes after it.
        if forUpstream != nil { decoder.finish { keepForUpstream(Array($0.raw.readableBytesView)) } }
        flushIfNeeded(context: context)
    }

    /// A whole line or command (`line` and `lab` framing): a recorded request, or a miss.
    private func answerWhole(_ message: [UInt8], context: ChannelHandlerContext) {
        if forUpstream != nil {
            keepForUpstream(message)
            return
        }
        guard closing == nil else { return }
        switch matcher.match(message, complete: true, whole: true) {
        case .answer(let turn, _):
            answer(message, with: turn, context: context)
        case .miss(let closest, let differsAt):
            miss(message, closest: closest, differsAt: differsAt, context: context)
        case .waitForMore:  // not when complete
            miss(message, closest: nil, differsAt: 0, context: context)
        }
    }

    private func answer(_ request: [UInt8], with turn: MockScript.Turn, context: ChannelHandlerContext) {
        let recorded = turn.request
        tape?.record(.client, request, verb: recorded.verb,
                     payloadRange: request == recorded.raw ? turn.requestPayloadRange : nil, answeredBy: recorded.id)
        send(turn.replies, context: context)
        if let reason = turn.closesWith { close(reason, context: context) }
    }

    private func miss(_ bytes: [UInt8], closest: StoredMessage?, differsAt: Int, context: ChannelHandlerContext) {
        tape?.record(.client, bytes)
        let received = Escaping.escape(bytes.prefix(80)) + (bytes.count > 80 ? "…" : "")
        let nearest = closest.map { message in
            "; closest recorded request is message \(message.id) of session \(message.sessionID) \"\(Escaping.escape(message.raw.prefix(80)))\", first different at byte \(differsAt)"
        } ?? "; no recorded request is left to compare (--order \(configuration.order.rawValue))"
        switch configuration.onMiss {
        case .close:
            logger.warning("no recorded request matches \"\(received)\" from \(clientDescription)\(nearest); closing (--on-miss close)")
            close(.serverClosed, context: context)
        case .reply(let bytes):
            logger.warning("no recorded request matches \"\(received)\" from \(clientDescription)\(nearest); sending the --on-miss reply")
            write(bytes, answeredBy: nil, replyCode: nil, context: context)
        case .upstream(let host, let port):
            let capture = sink == nil ? "" : ", recording the new exchange as a proxy session"
            logger.warning("no recorded request matches \"\(received)\" from \(clientDescription)\(nearest); forwarding the connection to \(host):\(port) from here on\(capture) (--on-miss upstream)")
            quietTimer?.cancel()
            forUpstream = bytes
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            // The replies scheduled so far go out first (`--pace`), as `close` waits for them.
            context.eventLoop.scheduleTask(deadline: max(lastSendAt, context.eventLoop.now)) {
                let (handler, context) = loopBound.value
                handler.handOver(to: host, port: port, context: context)
            }
        }
    }

    /// Client bytes past a miss that goes upstream: recorded in the mock's session (no recorded
    /// message behind them) and kept for the handover.
    private func keepForUpstream(_ bytes: [UInt8]) {
        tape?.record(.client, bytes)
        forUpstream?.append(contentsOf: bytes)
    }

    /// Swaps this handler for the proxy's glue, which sends what was kept (and the end of input)
    /// upstream first. The mock's session ends when the proxied one does, for the same reason.
    private func handOver(to host: String, port: Int, context: ChannelHandlerContext) {
        guard !ended, closing == nil, let bytes = forUpstream else { return }
        var proxy = ProxyConfiguration(upstreamHost: host, upstreamPort: port)
        proxy.connectTimeout = configuration.connectTimeout
        proxy.recorderName = configuration.recorderName
        proxy.maxUncommittedBytes = configuration.maxUncommittedBytes
        let connection = ProxyConnection(configuration: proxy, sink: sink, logger: logger, eventLoop: context.eventLoop)
        do {
            try connection.adopt(clientContext: context, pendingBytes: context.channel.allocator.buffer(bytes: bytes),
                                 inputClosed: inputClosedBeforeHandover)
        } catch {
            logger.warning("cannot forward the connection from \(clientDescription) to \(host):\(port) (--on-miss upstream): \(error)")
            close(.error, context: context)
            return
        }
        ended = true
        forUpstream = nil
        proxied = connection
        let tape = self.tape
        connection.endedFuture.assumeIsolated().whenSuccess { tape?.end($0) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    // MARK: Writing

    /// Sends `replies` now, or as long after now as they were recorded after their request (`--pace`).
    private func send(_ replies: [MockScript.Reply], context: ChannelHandlerContext) {
        guard case .recorded(let speed) = configuration.pace else {
            for reply in replies { write(reply, context: context) }
            return
        }
        let now = context.eventLoop.now
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        for reply in replies {
            let at = max(now + .nanoseconds(Int64(Double(reply.delayMicros) * 1_000 / speed)), lastSendAt)
            lastSendAt = at
            context.eventLoop.scheduleTask(deadline: at) {
                let (handler, context) = loopBound.value
                guard !handler.ended else { return }
                handler.write(reply, context: context)
                handler.flushIfNeeded(context: context)
            }
        }
    }

    /// Sends a recorded reply (its buffer is made once, with the script) and records it.
    private func write(_ reply: MockScript.Reply, context: ChannelHandlerContext) {
        write(reply.raw, buffered: reply.buffer, answeredBy: reply.id, replyCode: reply.replyCode, context: context)
    }

    /// Sends bytes no recording holds (the `--on-miss` reply) and records them.
    private func write(_ bytes: [UInt8], answeredBy: Int64?, replyCode: Int?, context: ChannelHandlerContext) {
        write(bytes, buffered: context.channel.allocator.buffer(bytes: bytes), answeredBy: answeredBy, replyCode: replyCode,
              context: context)
    }

    private func write(_ bytes: [UInt8], buffered buffer: ByteBuffer, answeredBy: Int64?, replyCode: Int?,
                       context: ChannelHandlerContext) {
        guard !bytes.isEmpty else { return }
        tape?.countWireBytes(bytes.count, from: .server)
        tape?.record(.server, bytes, replyCode: replyCode, answeredBy: answeredBy)
        context.write(wrapOutboundOut(buffer), promise: nil)
        needsFlush = true
    }

    private func flushIfNeeded(context: ChannelHandlerContext) {
        guard needsFlush else { return }
        needsFlush = false
        context.flush()
    }

    /// Closes once every reply scheduled so far has gone out.
    private func close(_ reason: EndReason, context: ChannelHandlerContext) {
        guard closing == nil else { return }
        closing = reason
        quietTimer?.cancel()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(deadline: max(lastSendAt, context.eventLoop.now)) {
            let context = loopBound.value
            // An empty write completes after every write before it.
            context.writeAndFlush(NIOAny(ByteBuffer())).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    // MARK: Quiet period

    /// Bytes that only begin a request (or a line) are complete after a quiet period, as in serve.
    private func scheduleQuietTimer(context: ChannelHandlerContext) {
        let waiting = lineFraming ? decoder.hasPending : !pending.isEmpty
        guard quietTimer == nil, closing == nil, waiting else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        quietTimer = context.eventLoop.scheduleTask(deadline: lastReadAt + configuration.quietPeriod) {
            let (handler, context) = loopBound.value
            handler.quietPeriodPassed(context: context)
        }
    }

    private func quietPeriodPassed(context: ChannelHandlerContext) {
        quietTimer = nil
        guard closing == nil else { return }
        if context.eventLoop.now < lastReadAt + configuration.quietPeriod {
            scheduleQuietTimer(context: context)  // more bytes came since the timer was set
            return
        }
        if lineFraming {
            decode(context: context) { decoder, emit in decoder.flush(emit) }
        } else {
            matchPending(context: context, complete: true)
        }
    }

    // MARK: Backpressure and recording

    /// Not while too much waits for a commit, nor between a miss that goes upstream and the handover.
    private var mayRead: Bool {
        (tape?.uncommittedBytes ?? 0) < configuration.maxUncommittedBytes && forUpstream == nil
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

    private func recorderReported(_ outcome: CommitOutcome, context: ChannelHandlerContext) {
        guard !ended else { return }
        tape?.apply(outcome)
        switch outcome {
        case .committed:
            resumeReadingIfAllowed(context: context)
        case .failed(let reason):
            logger.debug("closing the connection from \(clientDescription): its conversation could not be recorded (\(reason))")
            if closing == nil { closing = .storageError }
            context.close(promise: nil)
        }
    }
}
