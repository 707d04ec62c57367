import Metrics
import Telemetry

/// How a recorder is doing, read when /metrics or /readyz ask (not kept up to date per message).
public struct RecorderHealth: Sendable, Equatable {
    /// `sqlite` or `postgres`: the `store` label of the recorder's metrics.
    public var store: String
    public var queuedRecords = 0
    /// When the oldest record not yet committed was queued (`WallClock` µs); nil when none is waiting.
    public var oldestUnacknowledgedMicros: Int64?
    /// Why commits fail now (the last one failed, or the server is unreachable); nil while they succeed.
    public var refusal: String?
    /// Seconds spent without the server so far, the current outage included (PostgreSQL).
    public var outageSeconds: Double = 0

    public init(store: String) {
        self.store = store
    }
}

/// A sink that can say how it is doing: both recorders.
public protocol HealthReporting: Sendable {
    func health() async -> RecorderHealth
}

/// The age of the oldest record a recorder holds unacknowledged, kept under the recorder's own
/// lock: a clock read when a record joins an empty queue, two assignments per batch.
package struct UnacknowledgedAge {
    /// When the oldest record still queued was queued.
    private var queuedSince: Int64?
    /// When the oldest record of the batch being committed was queued.
    private var committingSince: Int64?

    package init() {}

    package mutating func queued() {
        if queuedSince == nil { queuedSince = WallClock.nowMicros() }
    }

    /// The writer took records from the queue; `emptied` when it took them all (else what is
    /// left counts as queued as early as what was taken: an upper bound).
    package mutating func taken(emptied: Bool) {
        committingSince = queuedSince
        if emptied { queuedSince = nil }
    }

    package mutating func settled() {
        committingSince = nil
    }

    package var oldestMicros: Int64? { committingSince ?? queuedSince }
}

/// A recorder's counters, made once with its `store` label and touched once per transaction.
package struct RecorderMeters: Sendable {
    private let batches: Counter
    private let records: Counter
    private let bytes: Counter
    private let commitDuration: Timer
    private let errors: Counter

    package init(store: String) {
        batches = WirelogMetrics.recorderBatches.counter(store)
        records = WirelogMetrics.recorderRecords.counter(store)
        bytes = WirelogMetrics.recorderBytes.counter(store)
        commitDuration = WirelogMetrics.recorderCommitDuration.timer(store)
        errors = WirelogMetrics.storageErrors.counter(store)
    }

    /// A transaction of `records` records ended after `micros`, committed or not.
    package func transaction(_ batch: SinkBatch, records count: Int, micros: Int64, committed: Bool) {
        commitDuration.recordMicroseconds(micros)
        if committed {
            batches.increment()
            records.increment(by: Int64(count))
            bytes.increment(by: Int64(batch.messageBytes))
        } else {
            errors.increment()
        }
    }
}
