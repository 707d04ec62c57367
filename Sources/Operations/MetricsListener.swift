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
        return WebViewer.application(router: router, settings: settings, logger: logger, onRunning: onRunning)
    }
}
