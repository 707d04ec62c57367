import Metrics
import NIOConcurrencyHelpers
import Recording
import Telemetry

/// What /readyz and the store gauges of /metrics ask: is the server listening, and does the store
/// take commits. Built by the command that records; `listening()` once its server is bound.
public final class Readiness: Sendable {
    private let recorder: (any HealthReporting)?
    private let isListening = NIOLockedValueBox(false)
    private let process = NIOLockedValueBox(ProcessMeters())

    /// `recorder` is nil when nothing is recorded (`--no-record`): then only listening counts.
    public init(recorder: (any HealthReporting)?) {
        self.recorder = recorder
    }

    public func listening() {
        isListening.withLockedValue { $0 = true }
    }

    /// Why the process is not ready, or nil when it is.
    func notReadyBecause() async -> String? {
        guard isListening.withLockedValue({ $0 }) else { return "not listening yet" }
        guard let recorder else { return nil }
        return await recorder.health().refusal.map { "the store refuses commits: \($0)" }
    }

    /// Sets the gauges that are read rather than counted: the recorder's state and the process's.
    func refresh() async {
        if let health = await recorder?.health() {
            let meters = StoreMeters(store: health.store)
            meters.queue.set(health.queuedRecords)
            let age = health.oldestUnacknowledgedMicros.map { max(0, WallClock.nowMicros() - $0) } ?? 0
            meters.oldestUnacknowledged.set(Double(age) / 1_000_000)
            meters.ready.set(health.refusal == nil ? 1 : 0)
            if health.store == "postgres" { process.withLockedValue { $0.followOutage(health.outageSeconds) } }
        }
        if let figures = ProcessFigures.read() {
            process.withLockedValue { $0.update(figures) }
        }
    }
}

private struct StoreMeters {
    let queue: Meter
    let oldestUnacknowledged: Meter
    let ready: Meter

    init(store: String) {
        queue = WirelogMetrics.recorderQueue.gauge(store)
        oldestUnacknowledged = WirelogMetrics.recorderOldestUnacknowledged.gauge(store)
        ready = WirelogMetrics.storeReady.gauge(store)
    }
}

/// A counter that follows a total read elsewhere (CPU seconds, outage seconds): it grows by the
/// difference since the last reading.
private struct FollowingCounter {
    let counter: FloatingPointCounter
    var last: Double = 0

    mutating func advance(to total: Double) {
        if total > last { counter.increment(by: total - last) }
        last = max(last, total)
    }
}

private struct ProcessMeters {
    let resident = WirelogMetrics.residentMemory.gauge()
    let openFiles = WirelogMetrics.openFiles.gauge()
    let start = WirelogMetrics.startTime.gauge()
    var cpu = FollowingCounter(counter: WirelogMetrics.cpuSeconds.floatingCounter())
    /// Made for a PostgreSQL recorder only.
    var outage: FollowingCounter?

    mutating func followOutage(_ seconds: Double) {
        if outage == nil { outage = FollowingCounter(counter: WirelogMetrics.postgresOutage.floatingCounter()) }
        outage?.advance(to: seconds)
    }

    mutating func update(_ figures: ProcessFigures) {
        resident.set(figures.residentBytes)
        openFiles.set(figures.openFiles)
        start.set(figures.startSeconds)
        cpu.advance(to: figures.cpuSeconds)
    }
}
