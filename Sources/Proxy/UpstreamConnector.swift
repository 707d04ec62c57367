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
        let upstreamTLS = configuration.upstreamTLS
        let host = configuration.upstreamHost
        let serverName = upstreamTLS?.settings.serverName ?? clientHello?.serverName
        let offered = clientHello?.applicationProtocols ?? []
        let makeHandler = NIOLoopBound(handler, eventLoop: eventLoop)
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try upstreamTLS?.addHandlers(to: pipeline, host: host, serverName: serverName, offering: offered)
                    try pipeline.addHandler(makeHandler.value())
                }
            }
            .connect(host: host, port: configuration.upstreamPort)
    }
}
