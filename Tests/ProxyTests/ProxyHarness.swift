import Foundation
import Logging
import NIOCore
import Proxy
import Backends
import Recording
import TestSupport

/// An in-process `ProxyServer` on 127.0.0.1 and an ephemeral port, recording into a real store.
struct ProxyHarness {
    let proxy: ProxyServer
    let port: Int
    let store: StoreLocation

    static func start(upstreamPort: Int, upstreamHost: String = "127.0.0.1", store: StoreLocation,
                      redaction: [RedactionRule] = [],
                      configure: (inout ProxyConfiguration) -> Void = { _ in }) async throws -> ProxyHarness {
        var configuration = ProxyConfiguration(upstreamHost: upstreamHost, upstreamPort: upstreamPort)
        configuration.listenHost = "127.0.0.1"
        configuration.listenPort = 0
        configuration.eventLoopThreads = 2
        configure(&configuration)
        var logger = Logger(label: "test.proxy")
        logger.logLevel = .error
        var settings = RecorderSettings()
        settings.redactionRules = redaction
        let sink = try await store.openRecorder(settings, logger: logger)
        let proxy = ProxyServer(configuration: configuration, sink: sink, logger: logger)
        let address = try await proxy.start()
        return ProxyHarness(proxy: proxy, port: address.port!, store: store)
    }

    /// Graceful shutdown: every session ended and committed.
    func stop() async {
        await proxy.shutdownGracefully(grace: .seconds(5))
    }
}

