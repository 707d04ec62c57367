import Foundation
import Logging
import Migrations
import NIOCore
import Metrics
import PostgresNIO
import Recording
import Telemetry

/// The PostgreSQL sink: one writer task commits whatever connections queued in one statement over
/// arrays (its own transaction, confirmed by a second round trip: `confirmCommitted`), then tells
/// each session how far it is durable.
/// When the server goes away every batch fails (nothing is acknowledged), the outage is logged
/// once, and the writer reconnects with backoff and carries on.
public final class PostgresRecorder: RecordingSink, HealthReporting, @unchecked Sendable {
    private let url: PostgresURL
    private let recorderName: String
    private let durability: Durability
    private let logger: Logger
    private let lock = NSLock()
    // Guarded by `lock`.
    private var queue: [SinkOperation] = []
    private var wakeUp: CheckedContinuation<Void, Never>?
    private var stopping = false
    private var stopped = false
    private var writer: Task<Void, Never>?
    /// What `health()` reads (also guarded by `lock`), written once per batch or outage event.
    private var watched = Watched()
    private struct Watched {
        var unacknowledged = UnacknowledgedAge()
        /// Why the last transaction failed; nil once one commits.
        var refusal: String?
        /// The writer's connection, whose closing shows an outage even while nothing is recorded.
        var link: PostgresLink?
        var outageSince: Date?
        var pastOutageSeconds: Double = 0
        /// A probe by `health()` reached the server: the writer need not wait out its backoff.
        var serverAnswered = false
    }

    // The writer task only.
    private var link: PostgresLink?
    private var batchNumber: UInt64 = 0
    private var outage: Outage?
    private var statistics = (batches: 0, records: 0)
    private let meters = RecorderMeters(store: "postgres")
    private let reconnects = WirelogMetrics.postgresReconnects.counter()
    /// Verbs and codes already noted per session (only a cache: noting twice is harmless).
    private var noted: [ObjectIdentifier: (verbs: Set<String>, codes: Set<Int>)] = [:]

    /// When the server stopped answering and when to try again.
    private struct Outage {
        var since: Date
        var retryAt: Date
        var backoff: TimeInterval
    }

    /// Connects (one clear error when it cannot), applies migrations, closes the sessions a dead
    /// recorder of the same name left open, and starts the writer.
    public static func open(_ url: PostgresURL, recorderName: String, durability: Durability = .normal,
                            redactionRules: [RedactionRule] = [], useStoreRules: Bool = true, logger: Logger,
                            upgrading: @escaping (Migration) -> Void = { _ in }) async throws -> PostgresRecorder {
        let link = try await PostgresLink.connect(url, logger: logger)
        let redactor: Redactor?
        do {
            try await PostgresSchema().migrate(link, nowMicros: WallClock.nowMicros(), willApply: upgrading)
            try await configureSession(for: durability, on: link)
            redactor = try await PostgresRedaction.redactor(link, adding: redactionRules, useStoreRules: useStoreRules)
            let recovered = try await PostgresRecovery.closeInterrupted(link, recorder: recorderName)
            if recovered > 0 {
                logger.notice("closed \(recovered) session(s) that recorder '\(recorderName)' left open (reason interrupted)")
            }
        } catch {
            await link.close()
            throw error
        }
        let recorder = PostgresRecorder(url: url, recorderName: recorderName, durability: durability, redactor: redactor,
                                        link: link, logger: logger)
        recorder.writer = Task { await recorder.writerLoop() }
        return recorder
    }

    public let redactor: Redactor?

    private init(url: PostgresURL, recorderName: String, durability: Durability, redactor: Redactor?, link: PostgresLink,
                 logger: Logger) {
        self.url = url
        self.recorderName = recorderName
        self.durability = durability
        self.redactor = redactor
        self.link = link
        self.logger = logger
        watched.link = link
    }

    /// The recorder's connection settings. `normal` durability is SQLite's `synchronous=NORMAL` here: a commit is acknowledged once PostgreSQL has
    /// it (it survives wirelog dying, a lost connection and a clean restart of PostgreSQL); the WAL
    /// reaches the disk within about 0.6 s (3 × `wal_writer_delay`), so a crash of the PostgreSQL
    /// server or of its machine can lose that much. `full` waits for the flush on every commit.
    /// The commit statement is planned once (a generic plan): planning it anew for every commit
    /// cost more than running it.
    private static func configureSession(for durability: Durability, on link: PostgresLink) async throws {
        try await link.rows(durability == .full ? "SET synchronous_commit TO on" : "SET synchronous_commit TO off")
        try await link.rows("SET plan_cache_mode TO force_generic_plan")
    }

    public func begin(_ session: RecordingSession) { enqueue(.begin(session)) }
    public func append(_ session: RecordingSession, _ message: RecordedMessage) { enqueue(.message(session, message)) }
    public func noteTLS(_ session: RecordingSession, _ tls: TLSDetails) { enqueue(.tls(session, tls)) }
    public func noteFaults(_ session: RecordingSession, _ faults: [FaultRecord]) { enqueue(.faults(session, faults)) }
    public func end(_ session: RecordingSession, _ end: SessionEnd) { enqueue(.end(session, end)) }

    public func shutdown() async {
        let waiter: CheckedContinuation<Void, Never>? = lock.withLock {
            stopping = true
            defer { wakeUp = nil }
            return wakeUp
        }
        waiter?.resume()
        await writer?.value
    }

    private func enqueue(_ operation: SinkOperation) {
        let waiter: CheckedContinuation<Void, Never>?? = lock.withLock {
            guard !stopped else { return nil }
            queue.append(operation)
            watched.unacknowledged.queued()
            defer { wakeUp = nil }
            return .some(wakeUp)
        }
        guard let waiter else {
            logger.error("recorder already shut down; a late record was dropped")
            return
        }
        waiter?.resume()
    }

    /// Bytes of recorded data one transaction carries at most (at least one record). A batch is
    /// held three times over while it is sent (the records, the column arrays, postgres-nio's
    /// encoded statement), on top of what connections queue meanwhile: without a cap a proxied
    /// bulk transfer kept about four times its 4 MiB commit window in memory.
    static let maxBatchBytes = 1 << 20

    /// The next batch: what is queued, oldest first, up to `maxBatchBytes`, once there is
    /// something (empty when stopping).
    private func nextBatch() async -> [SinkOperation] {
        while true {
            let batch: [SinkOperation]? = lock.withLock {
                if !queue.isEmpty {
                    var count = 0
                    var bytes = 0
                    while count < queue.count && (count == 0 || bytes + queue[count].queuedBytes <= Self.maxBatchBytes) {
                        bytes += queue[count].queuedBytes
                        count += 1
                    }
                    watched.unacknowledged.taken(emptied: count == queue.count)
                    if count == queue.count {
                        defer { queue.removeAll(keepingCapacity: true) }
                        return queue
                    }
                    defer { queue.removeFirst(count) }
                    return Array(queue[..<count])
                }
                if stopping {
                    stopped = true
                    return []
                }
                return nil
            }
            if let batch { return batch }
            await withCheckedContinuation { continuation in
                let resumeNow = lock.withLock {
                    if !queue.isEmpty || stopping { return true }
                    wakeUp = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    private func writerLoop() async {
        while true {
            let batch = await nextBatch()
            if batch.isEmpty { break }
            await write(batch)
        }
        await link?.close()
        logger.info("recorder stopped: \(statistics.records) records in \(statistics.batches) transactions")
    }

    private func write(_ batch: [SinkOperation]) async {
        batchNumber &+= 1
        let touched = SinkBatch(batch, number: batchNumber)
        // Sessions that get their row in this commit; if it fails they get it the next time.
        let withoutRow = touched.sessions.filter { $0.storedID == nil }
        let started = WallClock.nowMicros()
        do {
            let link = try await connectedLink()
            do {
                let statement = commit(batch, touching: touched.sessions, newSessions: withoutRow)
                let drawn = try await link.bounded(by: .seconds(10)) { link in
                    let drawn = try await link.execute(statement)
                    try await link.confirmCommitted()
                    return drawn
                }
                for (session, id) in zip(withoutRow, drawn.first ?? []) { session.storedID = id }
            } catch {
                // A connection that died mid-transaction starts an outage; retry at once next time.
                if link.isClosed { lostConnection(retryIn: 0) }
                throw error
            }
            statistics.batches += 1
            statistics.records += batch.count
            meters.transaction(touched, records: batch.count, micros: WallClock.nowMicros() - started, committed: true)
            if let outage {
                logger.notice("PostgreSQL at \(url) answers again after \(Int(Date().timeIntervalSince(outage.since))) s; recording resumed")
                self.outage = nil
            }
            lock.withLock {
                watched.unacknowledged.settled()
                watched.refusal = nil
                if let since = watched.outageSince {
                    watched.pastOutageSeconds += Date().timeIntervalSince(since)
                    watched.outageSince = nil
                }
            }
            touched.deliverCommitted()
        } catch {
            noted.removeAll()
            meters.transaction(touched, records: batch.count, micros: WallClock.nowMicros() - started, committed: false)
            let failure = PostgresStoreError.from(error, url: url)
            if outage == nil {
                logger.error("recording failed, \(batch.count) records not stored and not acknowledged: \(failure)")
            }
            lock.withLock {
                watched.unacknowledged.settled()
                watched.refusal = failure.description
            }
            touched.deliverFailed(failure.description)
        }
    }

    /// While the writer has a connection and its last commit went through, what it saw; otherwise
    /// (an outage, or a connection that closed while nothing was recorded) the server is asked
    /// with a connection of its own, so that /readyz follows the server even when idle.
    public func health() async -> RecorderHealth {
        var health = RecorderHealth(store: "postgres")
        let link: PostgresLink? = lock.withLock {
            health.queuedRecords = queue.count
            health.oldestUnacknowledgedMicros = watched.unacknowledged.oldestMicros
            health.refusal = watched.refusal
            health.outageSeconds = watched.pastOutageSeconds + (watched.outageSince.map { Date().timeIntervalSince($0) } ?? 0)
            return watched.link
        }
        guard health.refusal != nil || link?.isClosed != false else { return health }
        do {
            let probe = try await PostgresLink.connect(url, logger: logger, connectTimeout: .seconds(2))
            do {
                try await probe.rows("SELECT 1")
            } catch {
                await probe.close()
                throw error
            }
            await probe.close()
            lock.withLock { watched.serverAnswered = true }
            health.refusal = nil
        } catch {
            health.refusal = PostgresStoreError.from(error, url: url).description
        }
        return health
    }

    /// The connection, reconnecting when it was lost. During an outage batches fail at once until
    /// the next attempt is due; each failed attempt doubles the wait (0.1 s up to 5 s).
    private func connectedLink() async throws -> PostgresLink {
        if let link, !link.isClosed { return link }
        if link != nil { lostConnection(retryIn: 0) }
        let serverAnswered = lock.withLock {
            defer { watched.serverAnswered = false }
            return watched.serverAnswered
        }
        if let outage, Date() < outage.retryAt, !serverAnswered { throw PostgresStoreError.connectionLost(target: url.description) }
        do {
            let fresh = try await PostgresLink.connect(url, logger: logger, connectTimeout: .seconds(2))
            _ = try await PostgresRecovery.holdName(fresh, recorder: recorderName)
            try await Self.configureSession(for: durability, on: fresh)
            link = fresh
            lock.withLock { watched.link = fresh }
            reconnects.increment()
            return fresh
        } catch {
            lostConnection(retryIn: min((outage?.backoff ?? 0.05) * 2, 5))
            throw error
        }
    }

    /// Notes that the server is unreachable: the first time, one log line for the whole outage.
    private func lostConnection(retryIn backoff: TimeInterval) {
        link = nil
        lock.withLock {
            watched.link = nil
            if watched.outageSince == nil { watched.outageSince = Date() }
        }
        if outage == nil {
            logger.error("lost PostgreSQL at \(url); nothing is acknowledged until it answers again (retrying with backoff)")
        }
        outage = Outage(since: outage?.since ?? Date(), retryAt: Date().addingTimeInterval(backoff), backoff: max(backoff, 0.1))
    }

    /// The batch as one statement (`PostgresCommit`).
    private func commit(_ batch: [SinkOperation], touching sessions: [RecordingSession],
                        newSessions: [RecordingSession]) -> PostgresCommit.Prepared {
        // New sessions are inserted whole, with the latest TLS facts and the end this batch holds.
        var tls: [ObjectIdentifier: TLSDetails] = [:]
        var ends: [ObjectIdentifier: SessionEnd] = [:]
        var faults: [ObjectIdentifier: [FaultRecord]] = [:]
        for operation in batch {
            switch operation {
            case .tls(let session, let details): tls[ObjectIdentifier(session)] = details
            case .faults(let session, let list): faults[ObjectIdentifier(session)] = list
            case .end(let session, let end): ends[ObjectIdentifier(session)] = end
            case .begin, .message: break
            }
        }
        var commit = PostgresCommit()
        var references: [ObjectIdentifier: Int64] = [:]
        for session in newSessions {
            let key = ObjectIdentifier(session)
            references[key] = commit.insertSession(session.info, tls: tls[key] ?? session.info.tls, end: ends[key],
                                                   endReason: ends[key]?.reason.rawValue, origin: nil, faults: faults[key])
        }
        for session in sessions where references[ObjectIdentifier(session)] == nil {
            let key = ObjectIdentifier(session)
            if tls[key] != nil || ends[key] != nil || faults[key] != nil {
                commit.updateSession(id: session.storedID!, tls: tls[key], end: ends[key], faults: faults[key])
            }
        }
        for operation in batch {
            guard case .message(let session, let message) = operation else { continue }
            let key = ObjectIdentifier(session)
            let sessionID = references[key] ?? session.storedID!
            commit.insertMessage(message, sessionID: sessionID)
            if let verb = message.verb?.uppercased(), noted[key, default: ([], [])].verbs.insert(verb).inserted {
                commit.noteVerb(verb, sessionID: sessionID)
            }
            if let code = message.replyCode, noted[key, default: ([], [])].codes.insert(code).inserted {
                commit.noteReplyCode(code, sessionID: sessionID)
            }
        }
        for key in ends.keys { noted[key] = nil }
        return commit.prepared
    }
}
