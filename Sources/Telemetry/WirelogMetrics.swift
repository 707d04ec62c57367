import Metrics

/// One metric as Prometheus shows it: its full name (unit suffix included), what it counts, and
/// the names of its labels, each of which takes few values (never an address or a session id).
public struct MetricDefinition: Sendable {
    public enum Kind: Sendable, Equatable {
        case counter
        case gauge
        /// A histogram of seconds, with these upper bounds.
        case histogram(buckets: [Duration])
    }

    public let name: String
    public let help: String
    public let kind: Kind
    public let labels: [String]

    init(_ name: String, _ kind: Kind, labels: [String] = [], _ help: String) {
        self.name = name
        self.help = help
        self.kind = kind
        self.labels = labels
    }
}

/// Every metric wirelog exports. The modules that count create their handles from these with
/// swift-metrics; until `Operations` bootstraps the metrics system (`--metrics`), every handle is
/// swift-metrics' no-op, so a wirelog without `--metrics` counts nothing.
///
/// Handles are created once (static, or when a recorder or redactor is made) and then only
/// incremented: an increment is one relaxed atomic add, with no lock and no allocation.
public enum WirelogMetrics {
    // Listening (serve, proxy, mock): `listener` is the command.
    public static let connectionsAccepted = MetricDefinition(
        "wirelog_connections_accepted_total", .counter, labels: ["listener"], "Connections accepted.")
    public static let connectionsRefused = MetricDefinition(
        "wirelog_connections_refused_total", .counter, labels: ["listener"],
        "Connections refused because --max-connections were open.")
    public static let connectionsOpen = MetricDefinition(
        "wirelog_connections_open", .gauge, labels: ["listener"], "Connections open now.")

    // What sessions carried (the recording seam, counted whether or not anything is recorded).
    public static let wireBytes = MetricDefinition(
        "wirelog_wire_bytes_total", .counter, labels: ["sender"], "Bytes that crossed the wire, by the side that sent them.")
    public static let messages = MetricDefinition(
        "wirelog_messages_total", .counter, labels: ["sender"], "Messages cut from the traffic, by the side that sent them.")
    public static let sessionsEnded = MetricDefinition(
        "wirelog_sessions_ended_total", .counter, labels: ["reason"], "Sessions ended, by end reason.")
    public static let decodeErrors = MetricDefinition(
        "wirelog_decode_errors_total", .counter, labels: ["protocol"],
        "Messages that their protocol's decoder could not read (recorded raw with the reason).")
    public static let redactions = MetricDefinition(
        "wirelog_redactions_total", .counter, labels: ["rule"], "Secrets hidden before recording, by redaction rule.")

    // The recorder (`store` is sqlite or postgres): counted per commit, not per message.
    public static let recorderBatches = MetricDefinition(
        "wirelog_recorder_batches_total", .counter, labels: ["store"], "Transactions the recorder committed.")
    public static let recorderRecords = MetricDefinition(
        "wirelog_recorder_records_total", .counter, labels: ["store"],
        "Records committed: session starts, messages, TLS facts and session ends.")
    public static let recorderBytes = MetricDefinition(
        "wirelog_recorder_bytes_total", .counter, labels: ["store"], "Message bytes committed.")
    public static let recorderCommitDuration = MetricDefinition(
        "wirelog_recorder_commit_duration_seconds",
        .histogram(buckets: [.microseconds(250), .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10),
                             .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
                             .seconds(2.5), .seconds(10)]),
        labels: ["store"], "Time one transaction took, committed or failed.")
    public static let recorderQueue = MetricDefinition(
        "wirelog_recorder_queue_records", .gauge, labels: ["store"], "Records queued for the recorder, not yet in a transaction.")
    public static let recorderOldestUnacknowledged = MetricDefinition(
        "wirelog_recorder_oldest_unacknowledged_seconds", .gauge, labels: ["store"],
        "Age of the oldest record queued or being committed; 0 when everything is committed.")
    public static let storageErrors = MetricDefinition(
        "wirelog_storage_errors_total", .counter, labels: ["store"],
        "Transactions that failed: what they held was not stored and not acknowledged.")
    public static let storeReady = MetricDefinition(
        "wirelog_store_ready", .gauge, labels: ["store"], "1 while the store accepts commits, 0 while it refuses them (see /readyz).")
    // Faults (`proxy --api`, `--fault`, `--faults`): `proxy` is the proxy's name, `toxic` its type.
    public static let toxicsApplied = MetricDefinition(
        "wirelog_toxics_applied_total", .counter, labels: ["proxy", "toxic"],
        "Toxics applied to proxied connections (one per toxic per connection that got it).")

    public static let postgresReconnects = MetricDefinition(
        "wirelog_postgres_reconnects_total", .counter, "Connections the recorder made again after losing PostgreSQL.")
    public static let postgresOutage = MetricDefinition(
        "wirelog_postgres_outage_seconds_total", .counter, "Time the recorder spent without PostgreSQL, the current outage included.")

    // TLS: `side` is the leg (client: clients to wirelog; server: wirelog to the upstream).
    public static let tlsHandshakes = MetricDefinition(
        "wirelog_tls_handshakes_total", .counter, labels: ["side"], "TLS handshakes completed.")
    public static let tlsHandshakeFailures = MetricDefinition(
        "wirelog_tls_handshake_failures_total", .counter, labels: ["side", "reason"],
        "TLS handshakes that failed, by a short reason (timeout, not_tls, certificate, alert, closed, other).")

    // Mock.
    public static let mockRequests = MetricDefinition(
        "wirelog_mock_requests_total", .counter, labels: ["result"], "Requests the mock answered from a recording (hit) or not (miss).")

    // The process, read from /proc when scraped (Linux).
    public static let residentMemory = MetricDefinition("process_resident_memory_bytes", .gauge, "Resident memory size.")
    public static let openFiles = MetricDefinition("process_open_fds", .gauge, "Open file descriptors.")
    public static let cpuSeconds = MetricDefinition("process_cpu_seconds_total", .counter, "User and system CPU time spent.")
    public static let startTime = MetricDefinition("process_start_time_seconds", .gauge, "When the process started, in seconds since 1970.")

    public static let all: [MetricDefinition] = [
        connectionsAccepted, connectionsRefused, connectionsOpen,
        wireBytes, messages, sessionsEnded, decodeErrors, redactions,
        recorderBatches, recorderRecords, recorderBytes, recorderCommitDuration, recorderQueue, recorderOldestUnacknowledged,
        storageErrors, storeReady, postgresReconnects, postgresOutage,
        tlsHandshakes, tlsHandshakeFailures, mockRequests, toxicsApplied,
        residentMemory, openFiles, cpuSeconds, startTime,
    ]

    private static let byName = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    public static func definition(named name: String) -> MetricDefinition? { byName[name] }
}

extension MetricDefinition {
    private func dimensions(_ values: [String]) -> [(String, String)] {
        precondition(values.count == labels.count, "\(name) takes the labels \(labels)")
        return Array(zip(labels, values))
    }

    /// A counter of this metric with these label values (in the order of `labels`).
    public func counter(_ values: String...) -> Counter {
        Counter(label: name, dimensions: dimensions(values))
    }

    public func floatingCounter(_ values: String...) -> FloatingPointCounter {
        FloatingPointCounter(label: name, dimensions: dimensions(values))
    }

    /// A gauge that can be set, raised and lowered.
    public func gauge(_ values: String...) -> Meter {
        Meter(label: name, dimensions: dimensions(values))
    }

    public func timer(_ values: String...) -> Timer {
        Timer(label: name, dimensions: dimensions(values))
    }
}
