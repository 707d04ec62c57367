import Metrics
import Prometheus
import Telemetry

/// Where wirelog's metrics live once `--metrics` is given: a Prometheus registry behind
/// swift-metrics, so the counters the modules made are the ones `/metrics` shows.
public enum MetricsRegistry {
    /// Sets swift-metrics up to count into Prometheus (once per process, before any handle is
    /// made: handles made earlier stay no-ops) and returns the registry to expose.
    public static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(CatalogueFactory(registry: registry))
        return registry
    }
}

/// swift-prometheus' own factory, but with each metric's help text and histogram buckets from
/// `WirelogMetrics` (the stock factory writes no HELP line, which promtool rejects).
struct CatalogueFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        let help = WirelogMetrics.definition(named: label)?.help ?? "Counted by a library wirelog uses."
        return MetricNameDescriptor(metricName: label, unitName: "", helpText: help)
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
        return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: [1, 10, 100, 1_000, 10_000])
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let buckets: [Duration]
        if case .histogram(let defined) = WirelogMetrics.definition(named: label)?.kind {
            buckets = defined
        } else {
            buckets = [.milliseconds(1), .milliseconds(10), .milliseconds(100), .seconds(1), .seconds(10)]
        }
        return registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets)
    }

    // wirelog's handles live as long as the process.
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}
