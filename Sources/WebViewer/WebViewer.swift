import Hummingbird
import Logging
import Recording

/// Where the viewer listens and who may look.
public struct WebViewerSettings: Sendable {
    public var host: String
    public var port: Int
    /// Required on every request when set; `validate()` requires it off loopback.
    public var token: String?

    public init(host: String = "127.0.0.1", port: Int = 8080, token: String? = nil) {
        self.host = host
        self.port = port
        self.token = token
    }

    /// True for addresses only this machine can reach.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Other machines may only look with a token.
    public func validate() throws(WebViewerError) {
        if !isLoopback && (token ?? "").isEmpty { throw .tokenRequired(host: host) }
    }
}

public enum WebViewerError: Error, CustomStringConvertible, Equatable {
    case tokenRequired(host: String)

    public var description: String {
        switch self {
        case .tokenRequired(let host):
            "the viewer would show recorded traffic to every machine that reaches \(host): give --token TOKEN (or WIRELOG_WEB_TOKEN), or listen on 127.0.0.1"
        }
    }
}

/// The read-only browser viewer of a store: pages, the JSON API under /api, live events, downloads.
/// It reads only through `RecordingStore`, so every backend shows the same.
public enum WebViewer {
    /// The viewer as an application to run (it is a swift-service-lifecycle Service). `onRunning`
    /// hears the port it listens on (useful with port 0); `addRoutes` adds routes of others
    /// (`/metrics`), behind the same token.
    public static func application(store: ViewerStore, settings: WebViewerSettings, logger: Logger,
                                   addRoutes: (Router<BasicRequestContext>) -> Void = { _ in },
                                   onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = router(store: store, settings: settings, logger: logger)
        addRoutes(router)
        return application(router: router, settings: settings, logger: logger, onRunning: onRunning)
    }

    /// `router` served where `settings` say (the viewer's, the `--metrics` listener's).
    public static func application(router: Router<BasicRequestContext>, settings: WebViewerSettings, logger: Logger,
                                   onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        // Hummingbird announces its own "Server started and listening" at info; wirelog says
        // where it listens itself (`onRunning`), so the framework speaks from notice up.
        var frameworkLogger = logger
        frameworkLogger.logLevel = max(logger.logLevel, .notice)
        return Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(settings.host, port: settings.port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? settings.port) },
            logger: frameworkLogger)
    }

    static func router(store: ViewerStore, settings: WebViewerSettings, logger: Logger) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: ErrorMiddleware())
        if let token = settings.token, !token.isEmpty { router.add(middleware: TokenMiddleware(token: token)) }
        PageRoutes(store: store).add(to: router)
        SessionsAPI(store: store).add(to: router)
        StatsAndReplayAPI(store: store).add(to: router)
        Downloads(store: store).add(to: router)
        EventStream(store: store, feed: LiveFeed(store: store, logger: logger)).add(to: router)
        return router
    }
}
