import Foundation
import Logging
import Recording

/// The SQLite sink, a single writer: connections enqueue, one thread commits whatever is queued
/// in one transaction (group commit), then tells each session how far it is durable.
///
/// The queue itself is unbounded; callers bound it by pausing a connection while it has
/// too many bytes awaiting commit (see `CommitOutcome`).
public final class SQLiteRecorder: RecordingSink, HealthReporting, @unchecked Sendable {
    private let database: Database
    private let checkpointer: Checkpointer?
    private let logger: Logger
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var queue: [SinkOperation] = []
    private var queuedBytes = 0
    /// Whether `queue` holds a message whose bytes go to a segment file (noted as it is queued,
    /// rather than found by a second pass over every batch).
    private var queueHoldsLargeMessage = false
    /// Whether `queue` holds a record of a session that waits for its commits (`awaitsCommits`:
    /// serve's replies leave once their command is committed). Noted as records are queued.
    private var queueIsAwaited = false
    private var writerIsWaiting = false
    private var writerIsGathering = false
    /// Operations (or bytes: large records amortise a commit on their own) a batch should hold
    /// under load, and how long the writer waits for them: briefly while a connection waits for
    /// the commit, longer when none does (a proxy's records), since SQLite spends less per row in
    /// larger transactions (a third less at 400 rows than at 42: `benchmarks/sqlite_rows.c`).
    private static let gatherTarget = 32
    private static let gatherBytes = 256 << 10
    private static let gatherMicros = 150
    private static let unawaitedGatherTarget = 512
    private static let unawaitedGatherBytes = 1 << 20
    private static let unawaitedGatherMicros = 2_000
    /// Guarded by `condition`.
    private var batchIsFull: Bool {
        queueIsAwaited
            ? queue.count >= Self.gatherTarget || queuedBytes >= Self.gatherBytes
            : queue.count >= Self.unawaitedGatherTarget || queuedBytes >= Self.unawaitedGatherBytes
    }
    private var stopping = false
    private var stopped = false
    private var warnedAboutBacklog = false
    private var unacknowledged = UnacknowledgedAge()
    /// Why the last transaction failed; nil once one commits.
    private var refusal: String?

    // Writer thread only.
    private var batchNumber: UInt64 = 0
    private var previousBatchCount = 0
    private var stats = RecorderStatistics()
    private let meters = RecorderMeters(store: "sqlite")
    private var statements: Statements?
    private let segments: SegmentWriter
    private let writerDone = DispatchSemaphore(value: 0)

    /// Held for the recorder's life, so that a later recorder of the same name knows it is alive.
    private var nameLock: RecorderNameLock?
    /// Told once when the file turns out damaged: no commit can succeed any more, so recording
    /// should stop rather than refuse every command.
    private let onDamage: @Sendable (String) -> Void
    private var reportedDamage = false  // writer thread only

    /// Bytes queued beyond which a warning is logged: SQLite is falling behind.
    public var backlogWarningBytes = 64 << 20

    public let redactor: Redactor?

    /// Takes ownership of `database`, a connection opened with `SQLiteFile.openForWriting`;
    /// `redactionRules` and (unless `useStoreRules` is false) the store's own rules, which
    /// `redactionRules` are added to, hide secrets with the store's key before anything is queued.
    public init(database: Database, redactionRules: [RedactionRule] = [], useStoreRules: Bool = true, logger: Logger,
                onDamage: @escaping @Sendable (String) -> Void = { _ in }) throws {
        self.database = database
        self.logger = logger
        self.onDamage = onDamage
        segments = SegmentWriter(database: database)
        redactor = try SQLiteRedaction.redactor(database, adding: redactionRules, useStoreRules: useStoreRules)
        do {
            checkpointer = try Checkpointer(path: database.path, logger: logger)
        } catch {
            checkpointer = nil
            logger.warning("checkpoints stay on the recording thread (no second connection: \(error))")
        }
        checkpointer?.attach(to: database)
        let thread = Thread { [self] in
            // Named from inside: Foundation only names the running thread (and Linux keeps 15 characters).
            Thread.current.name = "wl-recorder"
            writerLoop()
        }
        thread.start()
    }

    /// Takes ownership of `database` as the recorder named `recorder`: unless another live recorder
    /// has that name, it first closes the sessions a dead one of that name left open (`interrupted`).
    public convenience init(database: Database, recorder: String, redactionRules: [RedactionRule] = [], useStoreRules: Bool = true,
                            logger: Logger, onDamage: @escaping @Sendable (String) -> Void = { _ in }) throws {
        let lock = try RecorderNameLock.acquire(databasePath: database.path, recorder: recorder)
        if lock != nil {
            let recovered = try SQLiteRecovery.closeInterrupted(database, recorder: recorder)
            if recovered > 0 {
                logger.notice("closed \(recovered) session(s) that recorder '\(recorder)' left open (reason interrupted)")
            }
        }
        try self.init(database: database, redactionRules: redactionRules, useStoreRules: useStoreRules, logger: logger, onDamage: onDamage)
        nameLock = lock
    }

    public func begin(_ session: RecordingSession) {
        enqueue(.begin(session))
    }

    public func append(_ session: RecordingSession, _ message: RecordedMessage) {
        enqueue(.message(session, message), large: message.raw.count >= SegmentFiles.threshold)
    }

    public func noteTLS(_ session: RecordingSession, _ tls: TLSDetails) {
        enqueue(.tls(session, tls))
    }

    public func noteFaults(_ session: RecordingSession, _ faults: [FaultRecord]) {
        enqueue(.faults(session, faults))
    }

    public func end(_ session: RecordingSession, _ end: SessionEnd) {
        enqueue(.end(session, end))
    }

    /// Commits everything queued, stops the writer thread and waits for it (on a thread of its
    /// own, not the task's).
    public func shutdown() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                self.stopAndWait()
                done.resume()
            }
        }
    }

    private func stopAndWait() {
        condition.lock()
        let alreadyStopping = stopping
        stopping = true
        condition.signal()
        condition.unlock()
        if !alreadyStopping { writerDone.wait() }
        nameLock = nil
    }

    private func enqueue(_ operation: SinkOperation, large: Bool = false) {
        condition.lock()
        if stopped {
            condition.unlock()
            logger.error("recorder already shut down; a late record was dropped")
            return
        }
        queue.append(operation)
        unacknowledged.queued()
        queuedBytes += operation.queuedBytes
        queueHoldsLargeMessage = queueHoldsLargeMessage || large
        // The first awaited record ends a long gather: someone now waits for this commit.
        let nowAwaited = !queueIsAwaited && operation.session.awaitsCommits
        queueIsAwaited = queueIsAwaited || operation.session.awaitsCommits
        if queuedBytes > backlogWarningBytes && !warnedAboutBacklog {
            warnedAboutBacklog = true
            logger.warning("recording backlog above \(backlogWarningBytes >> 20) MiB: SQLite is falling behind, connections will be slowed")
        }
        if writerIsWaiting || (writerIsGathering && (batchIsFull || nowAwaited)) {
            // One wake-up per sleep: the connections enqueueing before the writer runs need not signal.
            writerIsWaiting = false
            writerIsGathering = false
            condition.signal()
        }
        condition.unlock()
    }

    private func writerLoop() {
        var batch: [SinkOperation] = []
        while true {
            condition.lock()
            while queue.isEmpty && !stopping {
                writerIsWaiting = true
                condition.wait()
                writerIsWaiting = false
            }
            if queue.isEmpty && stopping {
                stopped = true
                condition.unlock()
                break
            }
            if !batchIsFull && !stopping {
                if !queueIsAwaited {
                    gatherMore(micros: Self.unawaitedGatherMicros)
                } else if previousBatchCount >= Self.gatherTarget / 4 {
                    // (A small previous batch means little concurrency: commit at once, latency first.)
                    gatherMore(micros: Self.gatherMicros)
                }
            }
            swap(&batch, &queue)
            queueIsAwaited = false
            unacknowledged.taken(emptied: true)
            let holdsLargeMessage = queueHoldsLargeMessage
            queueHoldsLargeMessage = false
            if queuedBytes < backlogWarningBytes / 2 { warnedAboutBacklog = false }
            queuedBytes = 0
            condition.unlock()

            let started = WallClock.nowMicros()
            let failure = write(batch, holdingLargeMessages: holdsLargeMessage)
            // The statistics count only what committed.
            if failure == nil {
                stats.batches += 1
                stats.records += batch.count
                stats.largestBatch = max(stats.largestBatch, batch.count)
                stats.writeMicros += WallClock.nowMicros() - started
            }
            // Only a commit that held messages says the store takes them again: the small end
            // of a session cut by the refusal may fit where its messages did not.
            let heldMessages = batch.contains { if case .message = $0 { true } else { false } }
            condition.withLock {
                unacknowledged.settled()
                if failure != nil || heldMessages { refusal = failure }
            }
            previousBatchCount = batch.count
            batch.removeAll(keepingCapacity: true)
        }
        statements = nil
        do {
            try segments.seal()
        } catch {
            logger.warning("could not seal the segment file this recorder wrote: \(error)")
        }
        if let checkpointer {
            checkpointer.detach(from: database)
            checkpointer.stop()
        }
        // Leave a small WAL behind: everything goes into the database file.
        _ = try? database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        logger.info("recorder stopped: \(stats)")
        writerDone.signal()
    }

    /// Waits up to `micros` (lock held by the caller) for the batch to be full (`batchIsFull`), or
    /// for a record someone waits for to end a long gather. A commit has a fixed cost of several
    /// rows' worth (SQLite alone spends about a third more per row in commits of 12 rows than of
    /// 100: `benchmarks/sqlite_rows.c`), so fuller batches leave more CPU to the connections.
    /// Measured at 50 connections on 2 cores: ~42 instead of ~11 records per commit, ~15% more
    /// requests/s.
    private func gatherMore(micros: Int) {
        writerIsGathering = true
        _ = condition.wait(until: Date(timeIntervalSinceNow: Double(micros) / 1_000_000))
        writerIsGathering = false
    }

    /// Commits `batch` (with a segment to append to when it holds large messages); why it failed
    /// (and was rolled back), or nil.
    private func write(_ batch: [SinkOperation], holdingLargeMessages: Bool) -> String? {
        batchNumber &+= 1
        // Every session in the batch hears the outcome, even when BEGIN itself fails.
        let touched = SinkBatch(batch, number: batchNumber)
        let started = WallClock.nowMicros()
        var insertedNow: [RecordingSession] = []
        do {
            let statements = try preparedStatements()
            try segments.beginBatch(holdingLargeMessages: holdingLargeMessages)
            try statements.begin.run()
            for operation in batch {
                let session = operation.session
                try statements.ensureRow(session, insertedNow: &insertedNow)
                switch operation {
                case .begin: break
                case .message(_, let message): try statements.insertMessage.insert(message, sessionID: session.storedID!)
                case .tls(_, let tls): try statements.noteTLS(session.storedID!, tls)
                case .faults(_, let faults): try statements.noteFaults(session.storedID!, faults)
                case .end(_, let end):
                    try statements.close(session.storedID!, end)
                    statements.insertMessage.forget(session: session.storedID!)
                }
            }
            try segments.beforeCommit()
            try statements.commit.run()
            meters.transaction(touched, records: batch.count, micros: WallClock.nowMicros() - started, committed: true)
            touched.deliverCommitted()
            return nil
        } catch {
            meters.transaction(touched, records: batch.count, micros: WallClock.nowMicros() - started, committed: false)
            database.rollbackIfOpen()
            segments.rollBack()
            // Rows inserted by the rolled-back transaction are gone: insert them again next time.
            for session in insertedNow { session.storedID = nil }
            statements?.insertMessage.forgetAll()

            let reason = String(describing: error)
            if let error = error as? SQLiteError, error.isCorrupt {
                reportDamage(error)
            } else {
                logger.error("recording failed, \(batch.count) records not stored and not acknowledged: \(reason)")
            }
            touched.deliverFailed(reason)
            return reason
        }
    }

    public func health() async -> RecorderHealth {
        var health = RecorderHealth(store: "sqlite")
        condition.withLock {
            health.queuedRecords = queue.count
            health.oldestUnacknowledgedMicros = unacknowledged.oldestMicros
            health.refusal = refusal.map { "SQLite refuses commits to \(database.path): \($0)" }
        }
        return health
    }

    private func reportDamage(_ error: SQLiteError) {
        guard !reportedDamage else { return }
        reportedDamage = true
        let damage = SQLiteStoreError.corrupt(path: database.path, detail: "SQLite: \(error.message)").description
        logger.critical("recording stopped: \(damage)")
        onDamage(damage)
    }

    private func preparedStatements() throws -> Statements {
        if let statements { return statements }
        let prepared = try Statements(database, segments: segments)
        statements = prepared
        return prepared
    }
}

/// What the writer did, logged when it stops (group commit at work: records per batch).
struct RecorderStatistics: CustomStringConvertible {
    var batches = 0
    var records = 0
    var largestBatch = 0
    var writeMicros: Int64 = 0

    var description: String {
        guard batches > 0 else { return "nothing recorded" }
        let perBatch = Double(records) / Double(batches)
        let microsPerBatch = Double(writeMicros) / Double(batches)
        return "\(records) records in \(batches) transactions (\(String(format: "%.1f", perBatch)) per transaction, largest \(largestBatch), \(String(format: "%.0f", microsPerBatch)) µs each)"
    }
}

/// The writer's statements, compiled once (BEGIN and COMMIT too: thousands of commits a second).
private final class Statements {
    let begin: Statement
    let commit: Statement
    let insertSession: Statement
    let insertMessage: MessageInsert
    let closeSession: Statement
    let setTLS: Statement
    let setFaults: Statement

    init(_ database: Database, segments: SegmentWriter) throws {
        begin = try database.prepare("BEGIN IMMEDIATE")
        commit = try database.prepare("COMMIT")
        insertSession = try database.prepare("""
            INSERT INTO sessions (kind, decoding, recorder, client_host, client_port, server_host, server_port, started_us, replay_of,
                                  tls, sni)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        insertMessage = try MessageInsert(database, segments: segments)
        closeSession = try database.prepare("""
            UPDATE sessions SET ended_us = ?, end_reason = ?, bytes_from_client = ?, bytes_from_server = ?, message_count = ?
            WHERE id = ?
            """)
        setTLS = try database.prepare("UPDATE sessions SET tls = ?, sni = ? WHERE id = ?")
        setFaults = try database.prepare("UPDATE sessions SET faults = ? WHERE id = ?")
    }

    func ensureRow(_ session: RecordingSession, insertedNow: inout [RecordingSession]) throws {
        guard session.storedID == nil else { return }
        let info = session.info
        try insertSession.bind([
            .text(info.kind.rawValue), .text(info.decoding.rawValue), .text(info.recorder),
            .text(info.clientHost), .int(info.clientPort), .text(info.serverHost), .int(info.serverPort),
            .integer(info.startedMicros), info.replayOf.map(SQLValue.integer) ?? .null,
            .optionalText(info.tls?.jsonText), .optionalText(info.tls?.serverName),
        ])
        try insertSession.run()
        session.storedID = insertSession.database.lastInsertRowID
        insertedNow.append(session)
    }

    func close(_ sessionID: Int64, _ end: SessionEnd) throws {
        try closeSession.bind([
            .integer(end.atMicros), .text(end.reason.rawValue),
            .integer(end.bytesFromClient), .integer(end.bytesFromServer), .integer(end.messageCount),
            .integer(sessionID),
        ])
        try closeSession.run()
    }

    func noteTLS(_ sessionID: Int64, _ tls: TLSDetails) throws {
        try setTLS.bind([.text(tls.jsonText), .optionalText(tls.serverName), .integer(sessionID)])
        try setTLS.run()
    }

    func noteFaults(_ sessionID: Int64, _ faults: [FaultRecord]) throws {
        try setFaults.bind([.text(faults.jsonText), .integer(sessionID)])
        try setFaults.run()
    }
}

/// The one way a message row is written (the recorder, synthetic data): every column bound,
/// the payload bound as a slice of the raw bytes, and with `segments` the bytes of a large
/// message appended to a segment file. It also keeps `message_spans` (how a session's messages are
/// found: `MessageLookup`), `session_verbs` and `session_reply_codes`, writing a session's span or
/// value the first time the session uses it.
final class MessageInsert {
    private let statement: Statement
    private let segments: SegmentWriter?
    private let insertSegmentRow: Statement
    private let noteVerb: Statement
    private let noteReplyCode: Statement
    private let noteSpan: Statement
    /// The span, verbs and codes already noted per session, so that the side tables are not looked up
    /// for every message. Only a cache: noting twice is harmless (INSERT OR IGNORE). At most
    /// `valuesCachedPerSession` each, so a client inventing verbs costs a lookup per message, not memory.
    private var noted: [Int64: NotedValues] = [:]
    private struct NotedValues {
        var verbs: [String] = []
        var replyCodes: [Int] = []
        var span: Int64 = -1
    }
    private static let valuesCachedPerSession = 16

    init(_ database: Database, segments: SegmentWriter? = nil) throws {
        self.segments = segments
        insertSegmentRow = try database.prepare(
            "INSERT INTO message_segments (message_id, segment, segment_offset, byte_count) VALUES (?, ?, ?, ?)")
        statement = try database.prepare("""
            INSERT INTO messages (session_id, seq, at_us, sender, raw, verb, payload, reply_code, answered_by, redactions,
                                  fields, decode_error, exchange_seq, duration_us)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        noteVerb = try database.prepare("INSERT OR IGNORE INTO session_verbs (verb, session_id) VALUES (?, ?)")
        noteReplyCode = try database.prepare("INSERT OR IGNORE INTO session_reply_codes (reply_code, session_id) VALUES (?, ?)")
        noteSpan = try database.prepare("INSERT OR IGNORE INTO message_spans (session_block, span, session_id) VALUES (?, ?, ?)")
    }

    func insert(_ message: RecordedMessage, sessionID: Int64) throws {
        try statement.bind(sessionID, at: 1)
        try statement.bind(message.seq, at: 2)
        try statement.bind(message.atMicros, at: 3)
        try statement.bind(.text(message.sender.rawValue), at: 4)
        try statement.bind(.optionalText(message.verb), at: 6)
        try statement.bind(.optionalInt(message.replyCode), at: 8)
        try statement.bind(message.answeredBy.map(SQLValue.integer) ?? .null, at: 9)
        try statement.bind(.optionalText(message.redactions.storedText), at: 10)
        try statement.bind(.optionalText(message.fields.jsonText), at: 11)
        try statement.bind(.optionalText(message.decodeError), at: 12)
        try statement.bind(message.exchange.map { SQLValue.integer($0.requestSeq) } ?? .null, at: 13)
        try statement.bind(message.exchange.map { SQLValue.integer($0.durationMicros) } ?? .null, at: 14)
        try message.raw.withUnsafeBytes { raw in
            let stored = try segments.flatMap { segments in
                try raw.count >= SegmentFiles.threshold ? segments.append(raw) : nil
            }
            try statement.bind(bytes: stored == nil ? raw : UnsafeRawBufferPointer(start: nil, count: 0), at: 5)
            if let range = message.payloadRange {
                try statement.bind(bytes: UnsafeRawBufferPointer(rebasing: raw[range]), at: 7)
            } else {
                try statement.bind(.null, at: 7)
            }
            try statement.run()
            let messageID = statement.database.lastInsertRowID
            try noteSpan(of: messageID, sessionID: sessionID)
            if let stored {
                try insertSegmentRow.bind([.integer(messageID), .integer(stored.segment),
                                           .integer(stored.offset), .int(raw.count)])
                try insertSegmentRow.run()
            }
        }
        if let verb = message.verb {
            try Self.note(verb, as: .text(verb), in: &noted[sessionID, default: NotedValues()].verbs,
                          with: noteVerb, sessionID: sessionID)
        }
        if let code = message.replyCode {
            try Self.note(code, as: .int(code), in: &noted[sessionID, default: NotedValues()].replyCodes,
                          with: noteReplyCode, sessionID: sessionID)
        }
    }

    /// Notes the span of message `messageID` for its session unless it is the last span noted: a
    /// session's messages take increasing ids, so one comparison a message suffices.
    private func noteSpan(of messageID: Int64, sessionID: Int64) throws {
        let span = messageID / MessageLookup.idsPerSpan
        guard noted[sessionID, default: NotedValues()].span != span else { return }
        try noteSpan.bind([.integer(sessionID / MessageLookup.sessionsPerBlock), .integer(span), .integer(sessionID)])
        try noteSpan.run()
        noted[sessionID, default: NotedValues()].span = span
    }

    /// Writes the side-table row for `value` unless `cache` says it is there (one dictionary
    /// access per value: this runs for every message).
    private static func note<Value: Equatable>(_ value: Value, as sqlValue: SQLValue, in cache: inout [Value],
                                               with statement: Statement, sessionID: Int64) throws {
        guard !cache.contains(value) else { return }
        try statement.bind([sqlValue, .integer(sessionID)])
        try statement.run()
        if cache.count < valuesCachedPerSession { cache.append(value) }
    }

    /// The session has ended: nothing more will be noted for it.
    func forget(session sessionID: Int64) {
        noted[sessionID] = nil
    }

    /// After a rollback the side-table rows the cache remembers may be gone.
    func forgetAll() {
        noted.removeAll()
    }
}
