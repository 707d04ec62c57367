import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Presentation
import Telemetry
import WirelogTLS

/// Where and how a `ListeningServer` accepts.
public struct ListeningConfiguration: Sendable {
    /// The command listening (serve, proxy, mock): the `listener` label of the connection metrics.
    public var name: String
    public var host: String
    public var port: Int
    public var maxConnections: Int
    public var eventLoopThreads: Int
    /// TLS on every accepted connection, before the connection's own handlers.
    public var tls: ServerTLS?

    public init(name: String, host: String, port: Int, maxConnections: Int, eventLoopThreads: Int, tls: ServerTLS? = nil) {
        self.name = name
        self.host = host
        self.port = port
        self.maxConnections = maxConnections
        self.eventLoopThreads = eventLoopThreads
        self.tls = tls
    }
}

/// What serve and proxy share: bind, accept, enforce the connection limit, put TLS in front, and
/// shut down gracefully (stop accepting, let connections finish within a grace period, close the
/// rest). What a connection does is the `admit` closure's business, as with HummingbirdCore's
/// child-channel setup; connections over the limit go to `refuse`.
public final class ListeningServer: Sendable {
    public typealias Admit = @Sendable (Channel) throws -> TrackedConnection
    public typealias Refuse = @Sendable (Channel) -> Void

    public let configuration: ListeningConfiguration
    private let group: MultiThreadedEventLoopGroup
    private let logger: Logger
    private let admit: Admit
    private let refuse: Refuse
    private let registry = ConnectionRegistry()
    private let listener: NIOLockedValueBox<Channel?> = NIOLockedValueBox(nil)

    /// Both closures run on the new channel's event loop, with its pipeline empty but for TLS.
    public init(configuration: ListeningConfiguration, logger: Logger, admit: @escaping Admit, refuse: @escaping Refuse) {
        self.configuration = configuration
        self.logger = logger
        self.admit = admit
        self.refuse = refuse
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopThreads))
    }

    /// Binds and starts accepting; returns the address actually bound (port 0 picks one).
    public func start() async throws -> SocketAddress {
        let configuration = self.configuration
        let registry = self.registry
        let admit = self.admit
        let refuse = self.refuse
        let logger = self.logger
        let meters = ListenerMeters(listener: configuration.name)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = configuration.tls {
                        try channel.pipeline.syncOperations.addHandlers(tls.connectionHandlers())
                    }
                    let admitted = try registry.admit(limit: configuration.maxConnections) { try admit(channel) }
                    if let admitted {
                        meters.accepted.increment()
                        meters.open.increment()
                        admitted.ended.whenComplete { _ in meters.open.decrement() }
                    } else {
                        meters.refused.increment()
                        logger.info("refusing a connection from \(channel.remoteAddress?.displayString ?? "?"): \(counted(configuration.maxConnections, "connection")) already open (--max-connections)")
                        refuse(channel)
                    }
                }
            }
        let held = HeldListeners.take(host: configuration.host, port: configuration.port)
        let channel = try await (held.map { bootstrap.withBoundSocket($0) }
            ?? bootstrap.bind(host: configuration.host, port: configuration.port)).get()
        listener.withLockedValue { $0 = channel }
        guard let address = channel.localAddress else { throw ListeningError.noLocalAddress }
        return address
    }

    /// Connections open now.
    public var connectionCount: Int { registry.count }

    /// Binds and starts accepting, then logs `announcement` of the address actually bound.
    public func start(announcing announcement: (SocketAddress) -> Logger.Message) async throws -> SocketAddress {
        let address = try await start()
        logger.info(announcement(address))
        return address
    }

    /// `drain`, then `finishRecording` (a sink committing what the connections recorded: it reports
    /// commits onto the event loops, so it must finish before they stop), then `stop`.
    public func shutdownGracefully(grace: TimeAmount, finishRecording: () async -> Void) async {
        await drain(grace: grace)
        await finishRecording()
        await stop()
    }

    /// Stops accepting, tells every connection to finish, waits up to `grace` for them and closes
    /// whatever is left. The event loops keep running (a sink may still deliver onto them): `stop`.
    public func drain(grace: TimeAmount) async {
        let listener = self.listener.withLockedValue { channel -> Channel? in
            defer { channel = nil }
            return channel
        }
        try? await listener?.close()
        let open = registry.closeDoors()
        if !open.isEmpty { logger.info("shutting down: waiting up to \(DurationText.micros(grace.nanoseconds / 1_000)) for \(counted(open.count, "open connection"))") }
        for connection in open { connection.quiesce() }
        let deadline = NIODeadline.now() + grace
        for connection in open {
            let timeout = connection.ended.eventLoop.scheduleTask(deadline: deadline) { connection.abort() }
            try? await connection.ended.get()
            timeout.cancel()
        }
    }

    /// Stops the event loops.
    public func stop() async {
        try? await group.shutdownGracefully()
    }
}

public enum ListeningError: Error, CustomStringConvertible {
    case noLocalAddress

    public var description: String { "the listening socket has no local address" }
}

extension SocketAddress {
    /// "127.0.0.1:7070", "[::1]:7070".
    public var displayString: String {
        let host = ipAddress ?? "?"
        let port = self.port.map(String.init) ?? "?"
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// One listener's connection counters.
private struct ListenerMeters: Sendable {
    let accepted: Counter
    let refused: Counter
    let open: Meter

    init(listener: String) {
        accepted = WirelogMetrics.connectionsAccepted.counter(listener)
        refused = WirelogMetrics.connectionsRefused.counter(listener)
        open = WirelogMetrics.connectionsOpen.gauge(listener)
    }
}
