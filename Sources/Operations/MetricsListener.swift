import Hummingbird
import Logging
import WebViewer

/// The `--metrics` listener: the operations routes alone, behind the web viewer's rules (loopback
/// by default, answering loopback names only; another address needs the token, on every request).
public enum MetricsListener {
    public static func application(routes: OperationsRoutes, settings: WebViewerSettings, logger: Logger,
                                   onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let router = WebViewer.guardedRouter(settings: settings)
        routes.add(to: router)
        return WebViewer.application(router: router, settings: settings, logger: logger, onRunning: onRunning)
    }
}
