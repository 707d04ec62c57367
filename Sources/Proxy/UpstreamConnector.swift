import NIOCore
import NIOPosix
import WirelogTLS

/// Opens the upstream side of a proxied connection on the client's event loop, so that both
/// channels share it and need no locks (as swift-nio-examples' connect-proxy does), with TLS when
/// originating: the SNI is `--upstream-sni`, else the client's, else the upstream host, and the
/// protocols the client offered (ALPN) are offered on.
enum UpstreamConnector {
    static func connect(_ configuration: ProxyConfiguration, on eventLoop: EventLoop, clientHello: ClientHello?,
                        handler: @escaping () -> ChannelHandler) -> EventLoopFuture<Channel> {
        let makeHandler = NIOLoopBound(handler, eventLoop: eventLoop)
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    // With --starttls the upstream starts plain; its TLS comes later, with `addTLS`.
                    if !configuration.startTLS {
                        try addTLS(configuration, to: pipeline, clientHello: clientHello)
                    }
                    try pipeline.addHandler(makeHandler.value())
                }
            }
            .connect(host: configuration.upstreamHost, port: configuration.upstreamPort)
    }

    /// The upstream's TLS handlers, at `position` (`.first` on a connection already carrying the
    /// proxy's handler), with the client's name and protocols passed on.
    static func addTLS(_ configuration: ProxyConfiguration, to pipeline: ChannelPipeline.SynchronousOperations,
                       clientHello: ClientHello?, position: ChannelPipeline.SynchronousOperations.Position = .last) throws {
        guard let upstreamTLS = configuration.upstreamTLS else { return }
        try upstreamTLS.addHandlers(to: pipeline, host: configuration.upstreamHost,
                                    serverName: upstreamTLS.settings.serverName ?? clientHello?.serverName,
                                    offering: clientHello?.applicationProtocols ?? [], position: position)
    }
}
