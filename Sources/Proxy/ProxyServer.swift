import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Presentation
import Recording

/// The recording proxy: accepts connections, gives each its own connection to the
/// configured upstream, forwards both ways and records everything, and shuts down
/// gracefully (stop accepting, let open connections finish within a grace period,
/// end the rest with reason `shutdown`, commit every record).
public final class ProxyServer: Sendable {
    public let configuration: ProxyConfiguration
    private let sink: (any RecordingSink)?
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let registry = ProxyRegistry()
    private let serverChannel: NIOLockedValueBox<Channel?> = NIOLockedValueBox(nil)

    /// With no `sink` the proxy only forwards (to measure what recording costs).
    public init(configuration: ProxyConfiguration, sink: (any RecordingSink)?, logger: Logger) {
        self.configuration = configuration
        self.sink = sink
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopThreads))
    }

    /// Binds and starts accepting; returns the address actually bound (port 0 picks one).
    public func start() async throws -> SocketAddress {
        let configuration = self.configuration
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
                    let admitted = registry.admit(limit: configuration.maxConnections) {
                        ProxyConnection(configuration: configuration, sink: sink, logger: logger, eventLoop: channel.eventLoop)
                    }
                    guard let connection = admitted else {
                        Self.refuse(channel, configuration: configuration, sink: sink, logger: logger)
                        return
                    }
                    try channel.pipeline.syncOperations.addHandler(ProxySideHandler(side: .client, connection: connection))
                }
            }
            .bind(host: configuration.listenHost, port: configuration.listenPort)
            .get()
        serverChannel.withLockedValue { $0 = channel }
        guard let address = channel.localAddress else { throw ProxyError.noLocalAddress }
        logger.info("wirelog proxy listening on \(describe(address)), forwarding to \(configuration.upstreamHost):\(configuration.upstreamPort)")
        return address
    }

    /// Connections being proxied now.
    public var connectionCount: Int { registry.count }

    /// Stops accepting, waits up to `grace` for open connections to finish, ends the rest
    /// (reason `shutdown`), commits the sink's last records and stops the event loops.
    public func shutdownGracefully(grace: TimeAmount = .seconds(10)) async {
        let listener = serverChannel.withLockedValue { channel -> Channel? in
            defer { channel = nil }
            return channel
        }
        try? await listener?.close()
        let open = registry.closeDoors()
        if !open.isEmpty { logger.info("shutting down: waiting up to \(DurationText.micros(grace.nanoseconds / 1_000)) for \(counted(open.count, "open connection"))") }
        let deadline = NIODeadline.now() + grace
        for entry in open {
            let timeout = entry.eventLoop.scheduleTask(deadline: deadline) { entry.connection.value.abort(.shutdown) }
            try? await entry.ended.get()
            timeout.cancel()
        }
        // The sink reports commits onto the event loops: drain it before they stop.
        await sink?.shutdown()
        try? await group.shutdownGracefully()
    }

    /// Over the connection limit: nothing the proxy could say fits every protocol, so it
    /// closes at once and records the refusal.
    private static func refuse(_ channel: Channel, configuration: ProxyConfiguration, sink: (any RecordingSink)?, logger: Logger) {
        logger.warning("refusing a connection: \(configuration.maxConnections) connections already open (--max-connections)")
        if let sink {
            let now = WallClock.nowMicros()
            SessionTape(sink: sink, info: .proxied(from: channel.remoteAddress, configuration, startedMicros: now)).end(.refused, at: now)
        }
        channel.close(promise: nil)
    }
}

public enum ProxyError: Error, CustomStringConvertible {
    case noLocalAddress

    public var description: String { "the listening socket has no local address" }
}

/// The open connections: counted for the connection limit, ended on shutdown. Unlike the
/// server's registry it tracks sessions, not channels: a session outlives its client
/// channel while the upstream still drains.
final class ProxyRegistry: Sendable {
    struct Entry: Sendable {
        let connection: NIOLoopBound<ProxyConnection>
        let eventLoop: EventLoop
        let ended: EventLoopFuture<Void>
    }

    private struct State {
        var connections: [ObjectIdentifier: Entry] = [:]
        var accepting = true
    }

    private let state = NIOLockedValueBox(State())

    /// Makes and registers a connection unless the proxy is at `limit` or shutting down.
    /// Called on the connection's event loop.
    func admit(limit: Int, _ make: () -> ProxyConnection) -> ProxyConnection? {
        let connection = state.withLockedValue { state -> ProxyConnection? in
            guard state.accepting, state.connections.count < limit else { return nil }
            let connection = make()
            state.connections[ObjectIdentifier(connection)] = Entry(
                connection: NIOLoopBound(connection, eventLoop: connection.eventLoop),
                eventLoop: connection.eventLoop, ended: connection.endedFuture)
            return connection
        }
        if let connection {
            let key = ObjectIdentifier(connection)
            connection.endedFuture.whenComplete { [weak self] _ in
                self?.state.withLockedValue { _ = $0.connections.removeValue(forKey: key) }
            }
        }
        return connection
    }

    var count: Int { state.withLockedValue { $0.connections.count } }

    /// Stops admitting and returns the connections open now.
    func closeDoors() -> [Entry] {
        state.withLockedValue { state in
            state.accepting = false
            return Array(state.connections.values)
        }
    }
}

extension SessionInfo {
    static func proxied(from client: SocketAddress?, _ configuration: ProxyConfiguration,
                        startedMicros: Int64 = WallClock.nowMicros()) -> SessionInfo {
        SessionInfo(
            kind: .proxy, decoding: configuration.decoding, recorder: configuration.recorderName,
            clientHost: client?.ipAddress ?? "unknown", clientPort: client?.port ?? 0,
            serverHost: configuration.upstreamHost, serverPort: configuration.upstreamPort, startedMicros: startedMicros)
    }
}
