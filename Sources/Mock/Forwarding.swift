import Logging
import NIOCore
import NIOPosix
import NIORecording
import Recording

/// After a miss with `--on-miss upstream`: the client's connection carried on to the real server,
/// both ways, and what crosses recorded as a new session of kind proxy, so that the next mock
/// run finds the exchange (capture on miss). Everything runs on the client's event loop.
///
/// Backpressure as in the proxy: the client is not read while the upstream is not writable (or
/// not connected yet), the upstream not while the client is not writable.
final class Forwarding {
    private weak var mock: MockConnectionHandler?
    /// Set right after init (its commits are delivered back here).
    private var capture: SessionTape?
    private var upstream: ChannelHandlerContext?
    private var connecting = true
    /// Client bytes and end of input that came while connecting.
    private var early: [[UInt8]] = []
    private var earlyInputClosed = false
    private var upstreamReadHeldBack = false

    private init(mock: MockConnectionHandler) {
        self.mock = mock
    }

    /// The client may be read: the upstream is connected and takes more (or is gone).
    var mayTakeMore: Bool { !connecting && (upstream?.channel.isWritable ?? true) }

    /// Connects to `host:port` from the client's event loop.
    static func start(for mock: MockConnectionHandler, host: String, port: Int, context: ChannelHandlerContext) -> Forwarding {
        let eventLoop = context.eventLoop
        let remote = context.channel.remoteAddress
        let info = SessionInfo(kind: .proxy, decoding: .raw, recorder: mock.configuration.recorderName,
                               clientHost: remote?.ipAddress ?? "unknown", clientPort: remote?.port ?? 0,
                               serverHost: host, serverPort: port, startedMicros: WallClock.nowMicros())
        let forwarding = Forwarding(mock: mock)
        let loopBound = NIOLoopBound(forwarding, eventLoop: eventLoop)
        forwarding.capture = mock.sink.map { sink in
            SessionTape(sink: sink, info: info, delivery: .eventLoop(eventLoop)) { outcome in loopBound.value.capture?.apply(outcome) }
        }
        ClientBootstrap(group: eventLoop)
            .connectTimeout(mock.configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(forwarding: loopBound.value))
                }
            }
            .connect(host: host, port: port)
            .assumeIsolated()
            .whenFailure { error in loopBound.value.failed(error, host: host, port: port) }
        return forwarding
    }

    /// Client bytes for the upstream.
    func send(_ bytes: [UInt8]) {
        capture?.countWireBytes(bytes.count, from: .client)
        capture?.record(.client, bytes)
        if connecting {
            early.append(bytes)
        } else if let upstream {
            upstream.writeAndFlush(NIOAny(upstream.channel.allocator.buffer(bytes: bytes)), promise: nil)
        }
    }

    func clientInputClosed() {
        if connecting {
            earlyInputClosed = true
        } else {
            upstream?.close(mode: .output, promise: nil)
        }
    }

    /// The client's connection has closed: so does the upstream's, and the captured session ends.
    func clientGone(reason: EndReason) {
        capture?.end(reason)
        upstream?.close(promise: nil)
    }

    func resumeReading() {
        guard upstreamReadHeldBack, let upstream else { return }
        upstreamReadHeldBack = false
        upstream.read()
    }

    // MARK: From the upstream

    fileprivate func connected(_ context: ChannelHandlerContext) {
        connecting = false
        upstream = context
        for bytes in early { context.write(NIOAny(context.channel.allocator.buffer(bytes: bytes)), promise: nil) }
        early.removeAll()
        context.flush()
        if earlyInputClosed { context.close(mode: .output, promise: nil) }
        if let mock, let client = mock.clientContext { mock.resumeReadingIfAllowed(context: client) } else { context.close(promise: nil) }
    }

    private func failed(_ error: Error, host: String, port: Int) {
        connecting = false
        early.removeAll()
        guard let mock, let client = mock.clientContext else { return }
        mock.logger.warning("cannot forward the connection from \(mock.clientDescription) to \(host):\(port) (--on-miss upstream): \(error)")
        mock.closing = mock.closing ?? .upstreamRefused
        client.close(promise: nil)
    }

    fileprivate func received(_ buffer: ByteBuffer) {
        let bytes = Array(buffer.readableBytesView)
        capture?.countWireBytes(bytes.count, from: .server)
        capture?.record(.server, bytes)
        guard let mock, let client = mock.clientContext else { return }
        mock.write(bytes, answeredBy: nil, replyCode: nil, context: client)
        mock.flushIfNeeded(context: client)
    }

    fileprivate func upstreamWritabilityChanged() {
        guard let mock, let client = mock.clientContext else { return }
        mock.resumeReadingIfAllowed(context: client)
    }

    /// The real server closed: so does the mock, once the client has everything.
    fileprivate func upstreamGone() {
        upstream = nil
        guard let mock, let client = mock.clientContext else { return }
        mock.close(.serverClosed, context: client)
    }

    fileprivate func readUpstream(_ context: ChannelHandlerContext) {
        if mock?.clientContext?.channel.isWritable ?? true {
            context.read()
        } else {
            upstreamReadHeldBack = true
        }
    }
}

/// The upstream channel's end of a `Forwarding`.
private final class UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let forwarding: Forwarding

    init(forwarding: Forwarding) {
        self.forwarding = forwarding
    }

    func channelActive(context: ChannelHandlerContext) {
        forwarding.connected(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        forwarding.received(unwrapInboundIn(data))
    }

    func read(context: ChannelHandlerContext) {
        forwarding.readUpstream(context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        forwarding.upstreamWritabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The server's half-close ends the exchange for the client too.
        if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        forwarding.upstreamGone()
        context.fireChannelInactive()
    }
}

extension MockConnectionHandler {
    /// Goes upstream for the rest of the connection.
    func startForwarding(host: String, port: Int, context: ChannelHandlerContext) -> Forwarding {
        let forwarding = Forwarding.start(for: self, host: host, port: port, context: context)
        self.forwarding = forwarding
        return forwarding
    }

    /// Client bytes past a miss: recorded in the mock's session (no recorded message behind them) and sent on.
    func forward(_ bytes: [UInt8], through forwarding: Forwarding) {
        tape?.record(.client, bytes)
        forwarding.send(bytes)
    }
}
