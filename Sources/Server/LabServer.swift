import LabProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Presentation
import Recording

/// The recording lab server: binds, serves each connection with a `LabSessionHandler`,
/// and shuts down gracefully (stop accepting, answer what was received, record it all).
public final class LabServer: Sendable {
    public let configuration: ServerConfiguration
    private let sink: (any RecordingSink)?
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let registry = ConnectionRegistry()
    private let serverChannel: NIOLockedValueBox<Channel?> = NIOLockedValueBox(nil)

    public init(configuration: ServerConfiguration, sink: (any RecordingSink)?, logger: Logger) {
        self.configuration = configuration
        self.sink = sink
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopThreads))
    }

    /// Binds and starts accepting; returns the address actually bound (port 0 picks one).
    public func start() async throws -> SocketAddress {
        let configuration = self.configuration
        let replies = LabReplies(lineEnding: configuration.lineEnding)
        let sink = self.sink
        let logger = self.logger
        let registry = self.registry
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if registry.admit(channel, limit: configuration.maxConnections) {
                        try channel.pipeline.syncOperations.addHandler(LabSessionHandler(
                            configuration: configuration, replies: replies, sink: sink, logger: logger))
                    } else {
                        try channel.pipeline.syncOperations.addHandler(RefusingHandler(
                            configuration: configuration, sink: sink))
                    }
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        serverChannel.withLockedValue { $0 = channel }
        guard let address = channel.localAddress else { throw ServerError.noLocalAddress }
        logger.info("wirelog serve listening on \(address.displayString)")
        return address
    }

    public var connectionCount: Int { registry.count }

    /// Stops accepting, lets every connection answer what it received and record it,
    /// waits up to `grace` for them to close, closes whatever is left, commits the
    /// sink's last records and stops the event loops.
    public func shutdownGracefully(grace: TimeAmount = .seconds(10)) async {
        let listener = serverChannel.withLockedValue { channel -> Channel? in
            defer { channel = nil }
            return channel
        }
        try? await listener?.close()
        let open = registry.closeDoors()
        if !open.isEmpty { logger.info("shutting down: finishing \(counted(open.count, "open connection"))") }
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        let deadline = NIODeadline.now() + grace
        for channel in open {
            let closed = channel.closeFuture
            let timeout = channel.eventLoop.scheduleTask(deadline: deadline) { channel.close(promise: nil) }
            try? await closed.get()
            timeout.cancel()
        }
        // The sink reports commits onto the event loops: drain it before they stop.
        await sink?.shutdown()
        try? await group.shutdownGracefully()
    }
}

public enum ServerError: Error, CustomStringConvertible {
    case noLocalAddress

    public var description: String { "the listening socket has no local address" }
}

/// Answers a connection over the limit with one line, records it as refused, closes it.
final class RefusingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let configuration: ServerConfiguration
    private let sink: (any RecordingSink)?

    init(configuration: ServerConfiguration, sink: (any RecordingSink)?) {
        self.configuration = configuration
        self.sink = configuration.recording ? sink : nil
    }

    func channelActive(context: ChannelHandlerContext) {
        let refusal = LabReply.busy(limit: configuration.maxConnections).encoded(lineEnding: configuration.lineEnding)
        if let sink {
            let now = WallClock.nowMicros()
            let tape = SessionTape(sink: sink, info: .served(channel: context.channel, recorder: configuration.recorderName, startedMicros: now))
            tape.countWireBytes(refusal.count, from: .server)
            tape.record(.server, refusal, at: now, replyCode: 503)
            tape.end(.refused, at: now)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(bytes: refusal)))
            .whenComplete { _ in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

extension SocketAddress {
    /// "127.0.0.1:7070", "[::1]:7070".
    public var displayString: String {
        let host = ipAddress ?? "?"
        let port = self.port.map(String.init) ?? "?"
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
