import Logging
import NIOCore
import NIOPosix
import NIORecording
import Recording
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The two ends of a proxied connection.
enum ProxySide: Sendable {
    case client, upstream

    var partner: ProxySide { self == .client ? .upstream : .client }
    var sender: Sender { self == .client ? .client : .server }
}

/// One proxied connection: the accepted client channel, its upstream channel (both on the
/// same event loop, so no locks), and the recording of what crosses between them.
///
/// Bytes are forwarded first and recorded after. Reading a side is held back while its
/// partner is not writable or while too many recorded bytes wait for a commit, so memory
/// stays bounded whatever the peers do.
final class ProxyConnection {
    /// What the proxy knows about one side.
    private final class Endpoint {
        let side: ProxySide
        var context: ChannelHandlerContext?
        var isOpen = false
        var inputClosed = false
        var readHeldBack = false
        var needsFlush = false
        var decoder: StreamDecoder
        var lastReadAt = NIODeadline.now()
        var quietTimer: Scheduled<Void>?

        init(side: ProxySide, decoder: StreamDecoder) {
            self.side = side
            self.decoder = decoder
        }
    }

    private let configuration: ProxyConfiguration
    private let sink: (any RecordingSink)?
    private let logger: Logger
    let eventLoop: EventLoop
    private let endedPromise: EventLoopPromise<Void>

    private let client: Endpoint
    private let upstream: Endpoint
    private var upstreamConnecting = false
    /// Client bytes that arrived before the upstream connection was up.
    private var earlyBytes = CircularBuffer<ByteBuffer>()
    private var earlyByteCount = 0
    private var earlyEOF = false

    /// Made when the client connection becomes active (it needs the client's address).
    private var tape: SessionTape?
    private var warnedAboutBacklog = false

    /// Why the session ends: an abort (reset, error, shutdown…) wins over the first
    /// half-close, which wins over the first side to close.
    private var abortReason: EndReason?
    private var halfCloseReason: EndReason?
    private var closedReason: EndReason?
    private var ended = false
    private var drainTimer: Scheduled<Void>?
    private var clientDescription = "?"

    /// Completes once the session has ended and its last records are queued.
    var endedFuture: EventLoopFuture<Void> { endedPromise.futureResult }

    init(configuration: ProxyConfiguration, sink: (any RecordingSink)?, logger: Logger, eventLoop: EventLoop) {
        self.configuration = configuration
        self.sink = sink
        self.logger = logger
        self.eventLoop = eventLoop
        self.endedPromise = eventLoop.makePromise()
        let maxLine = configuration.maxLineLength
        client = Endpoint(side: .client, decoder: StreamDecoder(
            decoding: configuration.decoding, sender: .client, maxLineLength: maxLine))
        upstream = Endpoint(side: .upstream, decoder: StreamDecoder(
            decoding: configuration.decoding, sender: .server, maxLineLength: maxLine))
    }

    private func endpoint(_ side: ProxySide) -> Endpoint { side == .client ? client : upstream }

    // MARK: Lifecycle

    func channelActive(_ side: ProxySide, context: ChannelHandlerContext) {
        switch side {
        case .client: clientActive(context: context)
        case .upstream: upstreamActive(context: context)
        }
    }

    private func clientActive(context: ChannelHandlerContext) {
        client.context = context
        client.isOpen = true
        let remote = context.channel.remoteAddress
        clientDescription = remote.map(describe) ?? "?"
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        tape = SessionTape(sink: sink, info: .proxied(from: remote, configuration), delivery: .eventLoop(eventLoop)) { outcome in
            loopBound.value.recorderReported(outcome)
        }
        connectUpstream()
    }

    private func connectUpstream() {
        upstreamConnecting = true
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ProxySideHandler(side: .upstream, connection: loopBound.value))
                }
            }
            .connect(host: configuration.upstreamHost, port: configuration.upstreamPort)
            .assumeIsolated()
            .whenFailure { error in loopBound.value.upstreamFailed(error) }
    }

    private func upstreamActive(context: ChannelHandlerContext) {
        upstreamConnecting = false
        upstream.context = context
        upstream.isOpen = true
        if abortReason != nil {
            // Shut down (or failed) while connecting.
            context.close(promise: nil)
            return
        }
        while let buffer = earlyBytes.popFirst() {
            context.write(NIOAny(buffer), promise: nil)
        }
        earlyByteCount = 0
        context.flush()
        if earlyEOF { forwardEndOfInput(to: .upstream) }
        if !client.isOpen { drainThenClose(upstream) }
        resumeReads()
    }

    private func upstreamFailed(_ error: Error) {
        guard upstreamConnecting else { return }
        upstreamConnecting = false
        earlyBytes.removeAll()
        earlyByteCount = 0
        let reason: EndReason = Self.isTimeout(error) ? .upstreamTimeout : .upstreamRefused
        abortReason = abortReason ?? reason
        logger.warning("cannot connect to upstream \(configuration.upstreamHost):\(configuration.upstreamPort) for client \(clientDescription): \(error)")
        if client.isOpen {
            client.context?.close(promise: nil)
        }
        endIfBothClosed()
    }

    private static func isTimeout(_ error: Error) -> Bool {
        if case ChannelError.connectTimeout = error { return true }
        if let error = error as? NIOConnectionError {
            return error.connectionErrors.contains { isTimeout($0.error) }
        }
        if let error = error as? IOError { return error.errnoCode == ETIMEDOUT }
        return false
    }

    func inputClosed(_ side: ProxySide) {
        let from = endpoint(side)
        guard !from.inputClosed else { return }
        from.inputClosed = true
        finishDecoding(from)
        halfCloseReason = halfCloseReason ?? (side == .client ? .clientClosed : .serverClosed)
        forwardEndOfInput(to: side.partner)
    }

    /// Carries a half-close across: the partner's output closes after what it has to send.
    private func forwardEndOfInput(to side: ProxySide) {
        if side == .upstream && upstreamConnecting {
            earlyEOF = true
            return
        }
        let target = endpoint(side)
        guard target.isOpen, let context = target.context else { return }
        // An empty write completes after every write before it. Closing the output only
        // then matters: with the input already closed NIO turns it into a full close, which
        // would drop unsent writes.
        let flushed = eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(ByteBuffer()), promise: flushed)
        flushed.futureResult.assumeIsolated().whenComplete { _ in
            context.close(mode: .output, promise: nil)
        }
    }

    func errorCaught(_ side: ProxySide, error: Error) {
        // A failed connect is reported by `upstreamFailed`.
        guard endpoint(side).isOpen else { return }
        let reason: EndReason
        if let error = error as? IOError, error.errnoCode == ECONNRESET || error.errnoCode == EPIPE {
            reason = .reset
        } else {
            reason = .error
            logger.debug("proxied connection from \(clientDescription): \(side) side failed: \(error)")
        }
        abortReason = abortReason ?? reason
        endpoint(side).context?.close(promise: nil)
    }

    func channelInactive(_ side: ProxySide) {
        let gone = endpoint(side)
        guard gone.isOpen else { return }
        gone.isOpen = false
        gone.context = nil
        finishDecoding(gone)
        closedReason = closedReason ?? (side == .client ? .clientClosed : .serverClosed)
        let partner = endpoint(side.partner)
        if partner.isOpen {
            // The partner still gets everything read from this side, then a close.
            switch abortReason {
            case .shutdown, .storageError: partner.context?.close(promise: nil)
            case .reset: resetThenClose(partner)
            default: drainThenClose(partner)
            }
        }
        endIfBothClosed()
    }

    private func drainThenClose(_ target: Endpoint) {
        guard target.isOpen, let context = target.context else { return }
        let flushed = eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(ByteBuffer()), promise: flushed)
        flushed.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        let loopBound = NIOLoopBound(context, eventLoop: eventLoop)
        drainTimer = eventLoop.scheduleTask(in: configuration.drainTimeout) {
            loopBound.value.close(promise: nil)
        }
    }

    /// One side was reset: so is the other (SO_LINGER 0, then close), as without the proxy,
    /// rather than ending it cleanly as if nothing had gone wrong.
    private func resetThenClose(_ target: Endpoint) {
        guard target.isOpen, let context = target.context else { return }
        guard let socket = context.channel as? SocketOptionProvider else {
            context.close(promise: nil)
            return
        }
        socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// The shutdown grace period is over, or the recording failed: close both sides now.
    func abort(_ reason: EndReason) {
        guard !ended else { return }
        abortReason = abortReason ?? reason
        client.context?.close(promise: nil)
        upstream.context?.close(promise: nil)
        endIfBothClosed()
    }

    private func endIfBothClosed() {
        guard !ended, !client.isOpen, !upstream.isOpen, !upstreamConnecting else { return }
        ended = true
        drainTimer?.cancel()
        finishDecoding(client)
        finishDecoding(upstream)
        let reason = abortReason ?? halfCloseReason ?? closedReason ?? .error
        tape?.end(reason)
        earlyBytes.removeAll()
        endedPromise.succeed(())
    }

    // MARK: Forwarding

    func channelRead(_ side: ProxySide, _ buffer: ByteBuffer) {
        let from = endpoint(side)
        let to = endpoint(side.partner)
        tape?.countWireBytes(buffer.readableBytes, from: side.sender)
        if to.isOpen, let context = to.context {
            context.write(NIOAny(buffer), promise: nil)
            to.needsFlush = true
        } else if side == .client && upstreamConnecting {
            earlyBytes.append(buffer)
            earlyByteCount += buffer.readableBytes
        }
        // Otherwise the partner is gone: the bytes cannot be delivered, but are recorded.
        record(buffer, from: from, other: to)
    }

    func channelReadComplete(_ side: ProxySide) {
        let to = endpoint(side.partner)
        if to.needsFlush {
            to.needsFlush = false
            to.context?.flush()
        }
    }

    /// The outbound `read`: let it through only when the bytes it brings have somewhere to go.
    func read(_ side: ProxySide, context: ChannelHandlerContext) {
        if mayRead(side) {
            context.read()
        } else {
            endpoint(side).readHeldBack = true
        }
    }

    func writabilityChanged(_ side: ProxySide) {
        resumeReads()
    }

    private func mayRead(_ side: ProxySide) -> Bool {
        guard !ended else { return false }
        if let tape, tape.uncommittedBytes >= configuration.maxUncommittedBytes {
            if !warnedAboutBacklog {
                warnedAboutBacklog = true
                logger.warning("recording of the connection from \(clientDescription) is behind by \(tape.uncommittedBytes >> 10) KiB: pausing it until the store catches up")
            }
            return false
        }
        if side == .client && upstreamConnecting {
            return earlyByteCount < configuration.maxEarlyBytes
        }
        let to = endpoint(side.partner)
        guard to.isOpen, let context = to.context else { return false }
        return context.channel.isWritable
    }

    private func resumeReads() {
        resumeReading(client)
        resumeReading(upstream)
    }

    private func resumeReading(_ endpoint: Endpoint) {
        guard endpoint.readHeldBack, mayRead(endpoint.side) else { return }
        endpoint.readHeldBack = false
        endpoint.context?.read()
    }

    // MARK: Recording

    private func record(_ buffer: ByteBuffer, from: Endpoint, other: Endpoint) {
        guard sink != nil, !ended else { return }
        let now = WallClock.nowMicros()
        // The other side's unfinished line is complete now that this side speaks (a bare
        // DATA still waits for its payload line: a lab server answers earlier commands meanwhile).
        if other.decoder.hasUnterminatedLine {
            other.decoder.flush { message in append(message, sender: other.side.sender, at: now) }
        }
        buffer.withUnsafeReadableBytes { bytes in
            from.decoder.feed(bytes) { message in append(message, sender: from.side.sender, at: now) }
        }
        if configuration.decoding != .raw {
            from.lastReadAt = .now()
            scheduleQuietTimer(from)
        }
    }

    private func finishDecoding(_ endpoint: Endpoint) {
        endpoint.quietTimer?.cancel()
        endpoint.quietTimer = nil
        guard sink != nil, endpoint.decoder.hasPending else { return }
        let now = WallClock.nowMicros()
        endpoint.decoder.finish { message in append(message, sender: endpoint.side.sender, at: now) }
    }

    private func append(_ message: DecodedMessage, sender: Sender, at micros: Int64) {
        tape?.record(sender, Array(message.raw), at: micros,
                     verb: message.verb, payloadRange: message.payloadRange, replyCode: message.replyCode)
    }

    private func scheduleQuietTimer(_ endpoint: Endpoint) {
        guard endpoint.quietTimer == nil, endpoint.decoder.hasUnterminatedLine else { return }
        let loopBound = NIOLoopBound((self, endpoint), eventLoop: eventLoop)
        endpoint.quietTimer = eventLoop.scheduleTask(deadline: endpoint.lastReadAt + configuration.quietPeriod) {
            let (connection, endpoint) = loopBound.value
            connection.quietPeriodPassed(endpoint)
        }
    }

    private func quietPeriodPassed(_ endpoint: Endpoint) {
        endpoint.quietTimer = nil
        guard !ended, endpoint.decoder.hasUnterminatedLine else { return }
        if NIODeadline.now() < endpoint.lastReadAt + configuration.quietPeriod {
            scheduleQuietTimer(endpoint)  // more bytes came since the timer was set
            return
        }
        let now = WallClock.nowMicros()
        endpoint.decoder.flush { message in append(message, sender: endpoint.side.sender, at: now) }
    }

    private func recorderReported(_ outcome: CommitOutcome) {
        guard !ended else { return }
        tape?.apply(outcome)
        switch outcome {
        case .committed:
            resumeReads()
        case .failed(let reason):
            // Forwarding what cannot be recorded would lose it: hang up instead.
            // The recorder has logged the failure (an outage once); one line per connection would flood.
            logger.debug("closing the connection from \(clientDescription): its traffic could not be recorded (\(reason))")
            abort(.storageError)
        }
    }
}

/// Sits in both channels of a proxied connection and hands everything to the connection.
final class ProxySideHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let side: ProxySide
    private let connection: ProxyConnection

    init(side: ProxySide, connection: ProxyConnection) {
        self.side = side
        self.connection = connection
    }

    func channelActive(context: ChannelHandlerContext) {
        connection.channelActive(side, context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.channelRead(side, unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        connection.channelReadComplete(side)
    }

    func read(context: ChannelHandlerContext) {
        connection.read(side, context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection.writabilityChanged(side)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            connection.inputClosed(side)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        connection.errorCaught(side, error: error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.channelInactive(side)
        context.fireChannelInactive()
    }
}

/// "127.0.0.1:7071", "[::1]:7071".
func describe(_ address: SocketAddress) -> String {
    let host = address.ipAddress ?? "?"
    let port = address.port.map(String.init) ?? "?"
    return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
}
