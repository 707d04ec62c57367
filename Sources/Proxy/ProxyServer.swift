import Listening
import Logging
import NIOCore
import NIOPosix
import Presentation
import Recording

/// The recording proxy: accepts connections (terminating TLS when configured), gives each its own
/// connection to the configured upstream, forwards both ways and records everything, and shuts
/// down gracefully (stop accepting, let open connections finish within a grace period, end the
/// rest with reason `shutdown`, commit every record).
public final class ProxyServer: Sendable {
    public let configuration: ProxyConfiguration
    private let sink: (any RecordingSink)?
    private let logger: Logger
    private let server: ListeningServer

    /// With no `sink` the proxy only forwards (to measure what recording costs).
    public init(configuration: ProxyConfiguration, sink: (any RecordingSink)?, logger: Logger) {
        self.configuration = configuration
        self.sink = sink
        self.logger = logger
        self.server = ListeningServer(
            configuration: ListeningConfiguration(
                name: "proxy",
                host: configuration.listenHost, port: configuration.listenPort, maxConnections: configuration.maxConnections,
                // With --starttls each connection decides when TLS starts (ProxyConnection+StartTLS).
                eventLoopThreads: configuration.eventLoopThreads, tls: configuration.startTLS ? nil : configuration.tls),
            logger: logger,
            admit: { channel in
                let connection = ProxyConnection(configuration: configuration, sink: sink, logger: logger, eventLoop: channel.eventLoop)
                try channel.pipeline.syncOperations.addHandler(ProxySideHandler(side: .client, connection: connection))
                let loopBound = NIOLoopBound(connection, eventLoop: channel.eventLoop)
                // Proxied connections finish on their own within the grace period; then they are cut.
                return TrackedConnection(ended: connection.endedFuture.map { _ in }, quiesce: {}, abort: { loopBound.value.abort(.shutdown) })
            },
            refuse: { channel in Self.refuse(channel, configuration: configuration, sink: sink) })
    }

    /// Binds and starts accepting; returns the address actually bound (port 0 picks one).
    public func start() async throws -> SocketAddress {
        let tls = [configuration.tls.map { _ in configuration.startTLS ? "TLS or STARTTLS from clients" : "TLS from clients" },
                   configuration.upstreamTLS.map { _ in "TLS to the upstream" },
                   configuration.startTLS && configuration.tls == nil ? "STARTTLS refused" : nil]
            .compactMap { $0 }
        let upstream = "\(configuration.upstreamHost):\(configuration.upstreamPort)\(tls.isEmpty ? "" : " (\(tls.joined(separator: ", ")))")"
        return try await server.start { "wirelog proxy listening on \($0.displayString), forwarding to \(upstream)" }
    }

    /// Connections being proxied now.
    public var connectionCount: Int { server.connectionCount }

    /// Stops accepting, waits up to `grace` for open connections to finish, ends the rest
    /// (reason `shutdown`), commits the sink's last records and stops the event loops.
    public func shutdownGracefully(grace: TimeAmount = .seconds(10)) async {
        await server.shutdownGracefully(grace: grace) { await sink?.shutdown() }
    }

    /// Stops accepting and ends open connections within `grace`, leaving the recorder and the
    /// event loops running: the fault API's proxies share one recorder, which may still report
    /// commits onto these loops (`stopEventLoops` once it has shut down).
    public func drain(grace: TimeAmount) async {
        await server.drain(grace: grace)
    }

    public func stopEventLoops() async {
        await server.stop()
    }

    /// Over the connection limit: nothing the proxy could say fits every protocol, so it
    /// closes at once and records the refusal.
    private static func refuse(_ channel: Channel, configuration: ProxyConfiguration, sink: (any RecordingSink)?) {
        if let sink {
            let now = WallClock.nowMicros()
            var info = SessionInfo.proxied(from: channel.remoteAddress, configuration, startedMicros: now)
            if info.decoding == .auto { info.decoding = .raw }  // no byte was seen to choose by
            SessionTape(sink: sink, info: info).end(.refused, at: now)
        }
        channel.close(promise: nil)
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
