import Faults
import Logging
import NIOCore
import NIORecording
import Listening
import Presentation
import Recording
import WirelogTLS
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

/// One proxied connection, the glue between its two channels: the accepted client channel and its
/// upstream channel (both on the same event loop, so no locks). It forwards what each side sends
/// to the other, holding back a side's reads while its partner is not writable or while too many
/// recorded bytes wait for a commit, so memory stays bounded whatever the peers do. The parts
/// with a job of their own live apart: `UpstreamConnector` opens the upstream, `EarlyBytes` holds
/// what the client sends meanwhile, `ProxyRecordingTap` records (bytes are forwarded first and
/// recorded after), `ProxyEnding` decides why the session ends and how the other side closes, and
/// with `--starttls` each read passes a protocol's upgrade rules first (`StartTLS/`).
/// The mock's capture on miss uses it too (`adopt`).
package final class ProxyConnection {
    /// What the glue knows about one side's channel.
    final class Endpoint {
        let side: ProxySide
        var context: ChannelHandlerContext?
        var isOpen = false
        var inputClosed = false
        var readHeldBack = false
        var needsFlush = false

        init(side: ProxySide) { self.side = side }
    }

    let configuration: ProxyConfiguration
    private let sink: (any RecordingSink)?
    let logger: Logger
    let eventLoop: EventLoop
    private let endedPromise: EventLoopPromise<EndReason>

    let client = Endpoint(side: .client)
    let upstream = Endpoint(side: .upstream)
    private var upstreamConnecting = false
    private var earlyBytes = EarlyBytes()
    /// TLS from the client: its handshake holds until the upstream is ready (its ALPN choice is
    /// passed back), so the upstream is connected once the ClientHello is known (with `--starttls`
    /// at once, and its TLS starts then).
    var clientHello: ClientHello?
    var clientHandshaking: Bool
    private var tls = TLSDetails()
    /// With `--starttls`: the protocol's upgrade rules and how far the switch has got.
    var startTLS: StartTLSState?

    /// Made when the client connection becomes active (the session needs the client's address).
    private(set) var tap: ProxyRecordingTap?
    /// The proxy's toxics on this connection (nil when the proxy has no fault set).
    private var faults: ConnectionFaults?
    private var warnedAboutBacklog = false

    private var ending = ProxyEnding()
    private var ended = false
    private var drainTimer: Scheduled<Void>?
    private(set) var clientDescription = "?"

    /// Completes, with the session's end reason, once it has ended and its last records are queued.
    package var endedFuture: EventLoopFuture<EndReason> { endedPromise.futureResult }

    package init(configuration: ProxyConfiguration, sink: (any RecordingSink)?, logger: Logger, eventLoop: EventLoop) {
        self.configuration = configuration
        self.sink = sink
        self.logger = logger
        self.eventLoop = eventLoop
        self.endedPromise = eventLoop.makePromise()
        // With --starttls the client starts in plaintext; its first byte tells if TLS comes at once.
        self.clientHandshaking = configuration.tls != nil && !configuration.startTLS
        if configuration.startTLS { startTLS = StartTLSState(configuration) }
    }

    func endpoint(_ side: ProxySide) -> Endpoint { side == .client ? client : upstream }

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
        clientDescription = remote?.displayString ?? "?"
        // With recording off there is no tap: forwarding is all a connection does.
        if let sink {
            let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
            tap = ProxyRecordingTap(sink: sink, info: .proxied(from: remote, configuration), configuration: configuration,
                                    eventLoop: eventLoop) { outcome in
                loopBound.value.recorderReported(outcome)
            }
        }
        if let set = configuration.faults {
            let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
            faults = ConnectionFaults(set: set, proxyName: configuration.name, clientHost: remote?.ipAddress ?? "",
                                      eventLoop: eventLoop) { loopBound.value.faultApplied($0) }
            faults?.attach(.downstream, anchor: context)
        }
        // A TLS client's upstream waits for its ClientHello (the name and protocols to pass on).
        if !clientHandshaking { connectUpstream() }
    }

    /// Takes over a client channel another handler has been reading (the mock, after a miss with
    /// `--on-miss upstream`): the client side's handler goes in right after `context`'s handler,
    /// which the caller then removes, and the upstream is connected. `pendingBytes`, read but not
    /// answered, reach it first; with `inputClosed`, so does the end of the client's input.
    package func adopt(clientContext context: ChannelHandlerContext, pendingBytes: ByteBuffer, inputClosed: Bool) throws {
        let pipeline = context.pipeline.syncOperations
        let handler = ProxySideHandler(side: .client, connection: self)
        try pipeline.addHandler(handler, position: .after(context.handler))
        let clientContext = try pipeline.context(handler: handler)
        clientActive(context: clientContext)
        channelRead(.client, pendingBytes)
        channelReadComplete(.client)
        if inputClosed { self.inputClosed(.client) }
        // The handler before may have held the channel's read back: it is this connection's now.
        client.readHeldBack = true
        resumeReading(client)
    }

    private func connectUpstream() {
        upstreamConnecting = true
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        UpstreamConnector.connect(configuration, on: eventLoop, clientHello: clientHello) {
            ProxySideHandler(side: .upstream, connection: loopBound.value)
        }
        .assumeIsolated()
        .whenFailure { error in loopBound.value.upstreamFailed(error) }
    }

    private func upstreamActive(context: ChannelHandlerContext) {
        upstreamConnecting = false
        upstream.context = context
        upstream.isOpen = true
        faults?.attach(.upstream, anchor: context)
        if ending.isAborted {
            // Shut down (or failed) while connecting.
            context.close(promise: nil)
            return
        }
        for buffer in earlyBytes.takeAll() { context.write(NIOAny(buffer), promise: nil) }
        context.flush()
        if earlyBytes.endOfInput { forwardEndOfInput(to: .upstream) }
        if !client.isOpen { drainThenClose(upstream) }
        if configuration.startTLS {
            startUpstreamLeg()
        } else if configuration.upstreamTLS == nil {
            upstreamReady(applicationProtocol: nil)
        }
        resumeReads()
    }

    /// Connected (and through TLS when originating): a TLS client's handshake may go on now.
    func upstreamReady(applicationProtocol: String?) {
        guard clientHandshaking, client.isOpen, let context = client.context else { return }
        context.triggerUserOutboundEvent(TLSProceed(applicationProtocol: applicationProtocol), promise: nil)
    }

    // MARK: TLS

    func tlsEvent(_ side: ProxySide, _ event: TLSEvent) {
        if case .clientHello(let hello) = event {
            if side == .client {
                clientHello = hello
                if configuration.startTLS { startUpstreamLeg() } else { connectUpstream() }
            }
            return
        }
        // The facts are recorded before anything closes: a close can end the session at once.
        switch event {
        case .established(let leg), .failed(let leg):
            if side == .client { tls.client = leg } else { tls.server = leg }
        case .closed(let closure):
            if side == .client { tls.client?.closedWith = closure } else { tls.server?.closedWith = closure }
        case .clientHello:
            break
        }
        startTLS?.mark(&tls)
        tap?.noteTLS(tls)
        switch (side, event) {
        case (.client, .established):
            clientHandshaking = false
            startTLS?.dialect?.clientUpgraded()
            resumeReads()
        case (.upstream, .established(let leg)):
            upstreamReady(applicationProtocol: leg.alpn)
        case (.client, .failed(let leg)):
            clientHandshaking = false
            ending.abort(.tlsHandshakeFailed)
            logger.info("TLS handshake with client \(clientDescription) failed: \(leg.failure ?? "?")")
        case (.upstream, .failed(let leg)):
            ending.abort(.upstreamTLSFailed)
            logger.warning("TLS handshake with upstream \(configuration.upstreamHost):\(configuration.upstreamPort) for client \(clientDescription) failed: \(leg.failure ?? "?")")
            client.context?.close(promise: nil)
        case (_, .closed), (_, .clientHello):
            break
        }
    }

    private func upstreamFailed(_ error: Error) {
        guard upstreamConnecting else { return }
        upstreamConnecting = false
        _ = earlyBytes.takeAll()
        ending.abort(ProxyEnding.reason(forConnectFailure: error))
        logger.warning("cannot connect to upstream \(configuration.upstreamHost):\(configuration.upstreamPort) for client \(clientDescription): \(NetworkErrorText.reason(error))")
        if client.isOpen {
            client.context?.close(promise: nil)
        }
        endIfBothClosed()
    }

    func inputClosed(_ side: ProxySide) {
        let from = endpoint(side)
        guard !from.inputClosed else { return }
        from.inputClosed = true
        if side == .client, let held = startTLS?.dialect?.clientEnded() { forward(held, from: .client) }
        tap?.finishDecoding(side)
        ending.inputClosed(side)
        forwardEndOfInput(to: side.partner)
    }

    /// Carries a half-close across: the partner's output closes after what it has to send.
    private func forwardEndOfInput(to side: ProxySide) {
        if side == .upstream && upstreamConnecting {
            earlyBytes.endOfInput = true
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
        let reason = ProxyEnding.reason(for: error)
        if reason != .reset {
            logger.debug("proxied connection from \(clientDescription): \(side) side failed: \(error)")
        }
        ending.abort(reason)
        endpoint(side).context?.close(promise: nil)
    }

    func channelInactive(_ side: ProxySide) {
        let gone = endpoint(side)
        guard gone.isOpen else { return }
        gone.isOpen = false
        gone.context = nil
        tap?.finishDecoding(side)
        let partnerClose = ending.closed(side)
        let partner = endpoint(side.partner)
        if partner.isOpen {
            switch partnerClose {
            case .now: partner.context?.close(promise: nil)
            case .reset: resetThenClose(partner)
            case .drain: drainThenClose(partner)
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
        context.resetThenClose()
    }

    /// The shutdown grace period is over, or the recording failed: close both sides now.
    package func abort(_ reason: EndReason) {
        guard !ended else { return }
        ending.abort(reason)
        client.context?.close(promise: nil)
        upstream.context?.close(promise: nil)
        endIfBothClosed()
    }

    private func endIfBothClosed() {
        guard !ended, !client.isOpen, !upstream.isOpen, !upstreamConnecting else { return }
        ended = true
        faults?.detach()
        drainTimer?.cancel()
        tap?.end(ending.reason)
        _ = earlyBytes.takeAll()
        endedPromise.succeed(ending.reason)
    }

    // MARK: Forwarding

    func channelRead(_ side: ProxySide, _ buffer: ByteBuffer) {
        // With --starttls the protocol's upgrade rules see each read first (ProxyConnection+StartTLS).
        guard let step = startTLS == nil ? StartTLSStep.pass(buffer) : startTLSStep(buffer, from: side) else { return }
        tap?.countWireBytes(buffer.readableBytes, from: side)
        if let bytes = step.forward { forward(bytes, from: side) }
        if let answer = step.answer { endpoint(side).context?.writeAndFlush(NIOAny(answer), promise: nil) }
        tap?.record(buffer, from: side)
        if startTLS != nil { applyAfterRecording(step, from: side) }
    }

    private func forward(_ buffer: ByteBuffer, from side: ProxySide) {
        let to = endpoint(side.partner)
        if to.isOpen, let context = to.context {
            context.write(NIOAny(buffer), promise: nil)
            to.needsFlush = true
        } else if side == .client && upstreamConnecting {
            earlyBytes.append(buffer)
        }
        // Otherwise the partner is gone: the bytes cannot be delivered, but are recorded.
    }

    func channelReadComplete(_ side: ProxySide) {
        tap?.endBurst(side)
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
        // The handshake's own bytes: no plaintext comes before it is done.
        if side == .client && clientHandshaking { return true }
        if let tap, tap.uncommittedBytes >= configuration.maxUncommittedBytes {
            if !warnedAboutBacklog {
                warnedAboutBacklog = true
                logger.warning("recording of the connection from \(clientDescription) is behind by \(tap.uncommittedBytes >> 10) KiB: pausing it until the store catches up")
            }
            return false
        }
        if side == .client && upstreamConnecting {
            return earlyBytes.byteCount < configuration.maxEarlyBytes
        }
        let to = endpoint(side.partner)
        guard to.isOpen, let context = to.context else { return false }
        return context.channel.isWritable && faults?.accepts(side == .client ? .upstream : .downstream) != false
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

    private func faultApplied(_ action: FaultAction) {
        logger.debug("toxic \(action.toxic.name) on the connection from \(clientDescription): \(action.what)")
        tap?.noteFault(action.record)
    }

    private func recorderReported(_ outcome: CommitOutcome) {
        guard !ended else { return }
        tap?.apply(outcome)
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
        switch event {
        case ChannelEvent.inputClosed: connection.inputClosed(side)
        case let event as TLSEvent: connection.tlsEvent(side, event)
        default: break
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
