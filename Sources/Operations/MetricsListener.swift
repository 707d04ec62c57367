import Hummingbird
import Logging
import WebViewer

/// The `--metrics` listener: the operations routes alone, behind the web viewer's token rules
/// (loopback by default; another address needs the token, checked on every request).
public enum MetricsListener {
    public static func application(routes: OperationsRoutes, settings: WebViewerSettings, logger: Logger,
                                   onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: ErrorMiddleware())
        if let token = settings.token, !token.isEmpty { router.add(middleware: TokenMiddleware(token: token)) }
        routes.add(to: router)
        // As the viewer: wirelog says where it listens itself (`onRunning`).
        var frameworkLogger = logger
        frameworkLogger.logLevel = max(logger.logLevel, .notice)
        return Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(settings.host, port: settings.port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? settings.port) },
            logger: frameworkLogger)
    }
}
