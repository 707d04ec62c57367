import LabProtocol
import Listening
import Logging
import NIOCore
import NIOPosix
import Presentation
import Recording

/// The recording lab server: serves each connection with a `LabConversation` (over TLS when
/// configured) and shuts down gracefully (stop accepting, answer what was received, record it all).
public final class LabServer: Sendable {
    public let configuration: ServerConfiguration
    private let sink: (any RecordingSink)?
    private let logger: Logger
    private let server: ListeningServer

    public init(configuration: ServerConfiguration, sink: (any RecordingSink)?, logger: Logger) {
        self.configuration = configuration
        self.sink = sink
        self.logger = logger
        let replies = LabReplies(lineEnding: configuration.lineEnding)
        self.server = ListeningServer(
            configuration: ListeningConfiguration(
                name: "serve",
                host: configuration.host, port: configuration.port, maxConnections: configuration.maxConnections,
                eventLoopThreads: configuration.eventLoopThreads, tls: configuration.tls),
            logger: logger,
            admit: { channel in
                try channel.pipeline.syncOperations.addHandler(LabConversation.handler(
                    configuration: configuration, replies: replies, sink: sink, logger: logger))
                return .channel(channel)
            },
            refuse: { channel in
                try? channel.pipeline.syncOperations.addHandler(RefusingHandler(configuration: configuration, sink: sink))
            })
    }

    /// Binds and starts accepting; returns the address actually bound (port 0 picks one).
    public func start() async throws -> SocketAddress {
        let tls = configuration.tls == nil ? "" : " (TLS)"
        return try await server.start { "wirelog serve listening on \($0.displayString)\(tls)" }
    }

    public var connectionCount: Int { server.connectionCount }

    /// Stops accepting, lets every connection answer what it received and record it,
    /// waits up to `grace` for them to close, closes whatever is left, commits the
    /// sink's last records and stops the event loops.
    public func shutdownGracefully(grace: TimeAmount = .seconds(10)) async {
        await server.shutdownGracefully(grace: grace) { await sink?.shutdown() }
    }
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
