import Hummingbird
import Prometheus

/// `/metrics` (Prometheus text format), `/healthz` (the process answers) and `/readyz` (listening,
/// and the store takes commits: else 503 and why), on the `--metrics` listener and the `--web` one.
public struct OperationsRoutes: Sendable {
    let registry: PrometheusCollectorRegistry
    let readiness: Readiness

    public init(registry: PrometheusCollectorRegistry, readiness: Readiness) {
        self.registry = registry
        self.readiness = readiness
    }

    public func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("/metrics") { _, _ in
            await readiness.refresh()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("/healthz") { _, _ in Self.text(.ok, "ok") }
        router.get("/readyz") { _, _ in
            if let reason = await readiness.notReadyBecause() { return Self.text(.serviceUnavailable, reason) }
            return Self.text(.ok, "ready")
        }
    }

    private static func text(_ status: HTTPResponse.Status, _ line: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: line + "\n")))
    }
}
