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

    /// Characters of the shortest token: one short enough to guess would not keep anyone out.
    public static let minimumTokenLength = 16

    /// Other machines may only look with a token; a token is long enough not to be guessed and
    /// made of the characters `Bearer` allows, which a cookie carries unchanged.
    public func validate() throws(WebViewerError) {
        guard let token, !token.isEmpty else {
            if !isLoopback { throw .tokenRequired(host: host) }
            return
        }
        if !token.unicodeScalars.allSatisfy(Self.isTokenCharacter) { throw .tokenCharacters }
        if token.count < Self.minimumTokenLength { throw .tokenTooShort(length: token.count) }
    }

    /// The characters of RFC 6750's b64token: ASCII letters, digits and `-._~+/=`.
    private static func isTokenCharacter(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-._~+/=".unicodeScalars.contains(scalar))
    }
}

public enum WebViewerError: Error, CustomStringConvertible, Equatable {
    case tokenRequired(host: String)
    case tokenTooShort(length: Int)
    case tokenCharacters

    public var description: String {
        switch self {
        case .tokenRequired(let host):
            "the viewer would show recorded traffic to every machine that reaches \(host): set WIRELOG_WEB_TOKEN or give --token-file FILE, or listen on 127.0.0.1"
        case .tokenTooShort(let length):
            "the web token has \(length) characters; it needs at least \(WebViewerSettings.minimumTokenLength) (openssl rand -hex 16 makes one)"
        case .tokenCharacters:
            "the web token may hold only letters, digits and - . _ ~ + / = (openssl rand -hex 16 makes one)"
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
            server: ViewerHTTPChannel.builder,
            configuration: ApplicationConfiguration(address: .hostname(settings.host, port: settings.port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? settings.port) },
            logger: frameworkLogger)
    }

    /// A router that answers only those the settings let in: with a token, requests that carry
    /// it; without, requests to a loopback name. The viewer's, and the `--metrics` listener's.
    public static func guardedRouter(settings: WebViewerSettings) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: ErrorMiddleware())
        if let token = settings.token, !token.isEmpty {
            router.add(middleware: TokenMiddleware(token: token))
        } else {
            router.add(middleware: LoopbackHostMiddleware())
        }
        return router
    }

    static func router(store: ViewerStore, settings: WebViewerSettings, logger: Logger) -> Router<BasicRequestContext> {
        let router = guardedRouter(settings: settings)
        PageRoutes(store: store).add(to: router)
        SessionsAPI(store: store).add(to: router)
        StatsAndReplayAPI(store: store).add(to: router)
        Downloads(store: store).add(to: router)
        EventStream(store: store, feed: LiveFeed(store: store, logger: logger)).add(to: router)
        return router
    }
}
