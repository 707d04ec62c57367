import Foundation
import Logging
import Migrations
import NIOCore
import PostgresNIO
import Recording

/// The PostgreSQL sink: one writer task commits whatever connections queued in one transaction
/// (a handful of round trips, each a multi-row statement over arrays), then tells each session how
/// far it is durable. When the server goes away every batch fails (nothing is acknowledged), the
/// outage is logged once, and the writer reconnects with backoff and carries on.
public final class PostgresRecorder: RecordingSink, @unchecked Sendable {
    private let url: PostgresURL
    private let recorderName: String
    private let logger: Logger
    private let lock = NSLock()
    // Guarded by `lock`.
    private var queue: [SinkOperation] = []
    private var wakeUp: CheckedContinuation<Void, Never>?
    private var stopping = false
    private var stopped = false
    private var writer: Task<Void, Never>?

    // The writer task only.
    private var link: PostgresLink?
    private var batchNumber: UInt64 = 0
    private var outage: Outage?
    private var statistics = (batches: 0, records: 0)
    /// Verbs and codes already noted per session (only a cache: noting twice is harmless).
    private var noted: [Int64: (verbs: Set<String>, codes: Set<Int>)] = [:]

    /// When the server stopped answering and when to try again.
    private struct Outage {
        var since: Date
        var retryAt: Date
        var backoff: TimeInterval
    }

    /// Connects (one clear error when it cannot), applies migrations, closes the sessions a dead
    /// recorder of the same name left open, and starts the writer.
    public static func open(_ url: PostgresURL, recorderName: String, redactionRules: [RedactionRule] = [], logger: Logger,
                            upgrading: @escaping (Migration) -> Void = { _ in }) async throws -> PostgresRecorder {
        let link = try await PostgresLink.connect(url, logger: logger)
        let redactor: Redactor?
        do {
            try await PostgresSchema().migrate(link, nowMicros: WallClock.nowMicros(), willApply: upgrading)
            redactor = redactionRules.isEmpty ? nil : Redactor(rules: redactionRules, key: try await redactionKey(link))
            let recovered = try await PostgresRecovery.closeInterrupted(link, recorder: recorderName)
            if recovered > 0 {
                logger.notice("closed \(recovered) session(s) that recorder '\(recorderName)' left open (reason interrupted)")
            }
        } catch {
            await link.close()
            throw error
        }
        let recorder = PostgresRecorder(url: url, recorderName: recorderName, redactor: redactor, link: link, logger: logger)
        recorder.writer = Task { await recorder.writerLoop() }
        return recorder
    }

    /// The store's redaction key (migration 0003).
    private static func redactionKey(_ link: PostgresLink) async throws -> [UInt8] {
        guard let key = try await link.rows("SELECT key FROM redaction_key").first?.decode(ByteBuffer.self), key.readableBytes > 0 else {
            throw PostgresStoreError.queryFailed(target: link.url.description, reason: "the store has no redaction key (table redaction_key is empty)")
        }
        return Array(buffer: key)
    }

    public let redactor: Redactor?

    private init(url: PostgresURL, recorderName: String, redactor: Redactor?, link: PostgresLink, logger: Logger) {
        self.url = url
        self.recorderName = recorderName
        self.redactor = redactor
        self.link = link
        self.logger = logger
    }

    public func begin(_ session: RecordingSession) { enqueue(.begin(session)) }
    public func append(_ session: RecordingSession, _ message: RecordedMessage) { enqueue(.message(session, message)) }
    public func noteTLS(_ session: RecordingSession, _ tls: TLSDetails) { enqueue(.tls(session, tls)) }
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
        // Rows this batch inserts are gone if it rolls back: those sessions get them again next time.
        let withoutRow = touched.sessions.filter { $0.storedID == nil }
        do {
            let link = try await connectedLink()
            do {
                try await link.bounded(by: .seconds(10)) { link in
                    try await link.transaction { link in try await self.insert(batch, newSessions: withoutRow, into: link) }
                }
            } catch {
                // A connection that died mid-transaction starts an outage; retry at once next time.
                if link.isClosed { lostConnection(retryIn: 0) }
                throw error
            }
            statistics.batches += 1
            statistics.records += batch.count
            if let outage {
                logger.notice("PostgreSQL at \(url) answers again after \(Int(Date().timeIntervalSince(outage.since))) s; recording resumed")
                self.outage = nil
            }
            touched.deliverCommitted()
        } catch {
            for session in withoutRow { session.storedID = nil }
            noted.removeAll()
            let failure = PostgresStoreError.from(error, url: url)
            if outage == nil {
                logger.error("recording failed, \(batch.count) records not stored and not acknowledged: \(failure)")
            }
            touched.deliverFailed(failure.description)
        }
    }

    /// The connection, reconnecting when it was lost. During an outage batches fail at once until
    /// the next attempt is due; each failed attempt doubles the wait (0.1 s up to 5 s).
    private func connectedLink() async throws -> PostgresLink {
        if let link, !link.isClosed { return link }
        if link != nil { lostConnection(retryIn: 0) }
        if let outage, Date() < outage.retryAt { throw PostgresStoreError.connectionLost(target: url.description) }
        do {
            let fresh = try await PostgresLink.connect(url, logger: logger, connectTimeout: .seconds(2))
            _ = try await PostgresRecovery.holdName(fresh, recorder: recorderName)
            link = fresh
            return fresh
        } catch {
            lostConnection(retryIn: min((outage?.backoff ?? 0.05) * 2, 5))
            throw error
        }
    }

    /// Notes that the server is unreachable: the first time, one log line for the whole outage.
    private func lostConnection(retryIn backoff: TimeInterval) {
        link = nil
        if outage == nil {
            logger.error("lost PostgreSQL at \(url); nothing is acknowledged until it answers again (retrying with backoff)")
        }
        outage = Outage(since: outage?.since ?? Date(), retryAt: Date().addingTimeInterval(backoff), backoff: max(backoff, 0.1))
    }

    /// The batch as a few multi-row statements: new session rows, messages, the verb and code
    /// sets, then the ends.
    private func insert(_ batch: [SinkOperation], newSessions: [RecordingSession], into link: PostgresLink) async throws {
        if !newSessions.isEmpty {
            let ids = try await insertSessions(newSessions, link)
            for (session, id) in zip(newSessions, ids) { session.storedID = id }
        }

        var messages = MessageColumns()
        var verbs: [(String, Int64)] = []
        var codes: [(Int, Int64)] = []
        var ends: [(Int64, SessionEnd)] = []
        /// The latest TLS facts of each session in the batch.
        var tls: [Int64: TLSDetails] = [:]
        for operation in batch {
            let sessionID = operation.session.storedID!
            switch operation {
            case .begin: break
            case .message(_, let message):
                messages.append(message, sessionID: sessionID)
                if let verb = message.verb?.uppercased(), noted[sessionID, default: ([], [])].verbs.insert(verb).inserted {
                    verbs.append((verb, sessionID))
                }
                if let code = message.replyCode, noted[sessionID, default: ([], [])].codes.insert(code).inserted {
                    codes.append((code, sessionID))
                }
            case .tls(_, let details):
                tls[sessionID] = details
            case .end(_, let end):
                ends.append((sessionID, end))
                noted[sessionID] = nil
            }
        }
        if !messages.isEmpty { try await link.rows(messages.insertQuery(notifying: PostgresFollowCursor.channel)) }
        if !verbs.isEmpty {
            try await link.rows("""
                INSERT INTO session_verbs (verb, session_id)
                SELECT * FROM unnest(\(verbs.map(\.0))::text[], \(verbs.map(\.1))::bigint[]) ON CONFLICT DO NOTHING
                """)
        }
        if !codes.isEmpty {
            try await link.rows("""
                INSERT INTO session_reply_codes (reply_code, session_id)
                SELECT * FROM unnest(\(codes.map(\.0))::integer[], \(codes.map(\.1))::bigint[]) ON CONFLICT DO NOTHING
                """)
        }
        if !tls.isEmpty {
            // The arrays cannot carry NULLs from here: '' stands for "no name".
            let ids = Array(tls.keys)
            try await link.rows("""
                UPDATE sessions s SET tls = t.tls::jsonb, sni = NULLIF(t.sni, '')
                FROM unnest(\(ids)::bigint[], \(ids.map { tls[$0]!.jsonText })::text[],
                            \(ids.map { tls[$0]!.serverName ?? "" })::text[]) AS t(id, tls, sni)
                WHERE s.id = t.id
                """)
        }
        if !ends.isEmpty {
            try await link.rows("""
                UPDATE sessions s SET ended_us = e.ended_us, end_reason = e.reason, bytes_from_client = e.from_client,
                       bytes_from_server = e.from_server, message_count = e.messages
                FROM unnest(\(ends.map(\.0))::bigint[], \(ends.map(\.1.atMicros))::bigint[], \(ends.map(\.1.reason.rawValue))::text[],
                            \(ends.map(\.1.bytesFromClient))::bigint[], \(ends.map(\.1.bytesFromServer))::bigint[],
                            \(ends.map(\.1.messageCount))::bigint[])
                     AS e(id, ended_us, reason, from_client, from_server, messages)
                WHERE s.id = e.id
                """)
        }
    }

    /// Inserts session rows and returns their ids in order: the ids are drawn first, so the order
    /// does not rest on what RETURNING happens to do.
    private func insertSessions(_ sessions: [RecordingSession], _ link: PostgresLink) async throws -> [Int64] {
        let ids = try await link.rows("""
            SELECT nextval(pg_get_serial_sequence('sessions', 'id')) FROM generate_series(1, \(sessions.count))
            """).map { try $0.decode(Int64.self) }
        let infos = sessions.map(\.info)
        // The arrays cannot carry NULLs from here: 0 stands for "no replay" (ids start at 1), '' for no TLS.
        try await link.rows("""
            INSERT INTO sessions (id, kind, decoding, recorder, client_host, client_port, server_host, server_port,
                                  started_us, replay_of, tls, sni)
            OVERRIDING SYSTEM VALUE
            SELECT id, kind, decoding, recorder, client_host, client_port, server_host, server_port, started_us,
                   NULLIF(replay_of, 0), NULLIF(tls, '')::jsonb, NULLIF(sni, '')
            FROM unnest(\(ids)::bigint[], \(infos.map(\.kind.rawValue))::text[], \(infos.map(\.decoding.rawValue))::text[],
                        \(infos.map(\.recorder))::text[], \(infos.map(\.clientHost))::text[],
                        \(infos.map(\.clientPort))::integer[], \(infos.map(\.serverHost))::text[],
                        \(infos.map(\.serverPort))::integer[], \(infos.map(\.startedMicros))::bigint[],
                        \(infos.map { $0.replayOf ?? 0 })::bigint[], \(infos.map { $0.tls?.jsonText ?? "" })::text[],
                        \(infos.map { $0.tls?.serverName ?? "" })::text[])
                 AS s(id, kind, decoding, recorder, client_host, client_port, server_host, server_port, started_us, replay_of,
                      tls, sni)
            """)
        return ids
    }
}

/// A batch's messages as column arrays, for one `INSERT … SELECT FROM unnest(…)`. The arrays
/// cannot carry NULLs from here, so absent values travel with a flag (verb, payload) or as -1
/// (reply codes are never negative).
struct MessageColumns {
    private var sessionIDs: [Int64] = []
    private var seqs: [Int64] = []
    private var times: [Int64] = []
    private var senders: [String] = []
    private var raws: [ByteBuffer] = []
    private var verbs: [String] = []
    private var hasVerb: [Bool] = []
    private var payloads: [ByteBuffer] = []
    private var hasPayload: [Bool] = []
    private var replyCodes: [Int] = []
    /// `RedactedSpan` lists as stored, '' for none.
    private var redactions: [String] = []

    var isEmpty: Bool { seqs.isEmpty }

    mutating func append(_ message: RecordedMessage, sessionID: Int64) {
        sessionIDs.append(sessionID)
        seqs.append(message.seq)
        times.append(message.atMicros)
        senders.append(message.sender.rawValue)
        raws.append(ByteBuffer(bytes: message.raw))
        verbs.append(message.verb ?? "")
        hasVerb.append(message.verb != nil)
        payloads.append(message.payloadRange.map { ByteBuffer(bytes: message.raw[$0]) } ?? ByteBuffer())
        hasPayload.append(message.payloadRange != nil)
        replyCodes.append(message.replyCode ?? -1)
        redactions.append(message.redactions.storedText ?? "")
    }

    /// In batch order (WITH ORDINALITY … ORDER BY): ids follow wire order within each session.
    /// Followers on `channel` hear the transaction and its range of ids when (and only if) it
    /// commits: `XID:FIRST-LAST` (another recorder's rows may sit inside the range; the
    /// transaction id, which is each row's `xmin`, tells them apart).
    func insertQuery(notifying channel: String) -> PostgresQuery {
        """
        WITH inserted AS (
        INSERT INTO messages (session_id, seq, at_us, sender, raw, verb, payload, reply_code, redactions)
        SELECT session_id, seq, at_us, sender, raw, CASE WHEN has_verb THEN verb END,
               CASE WHEN has_payload THEN payload END, NULLIF(reply_code, -1), NULLIF(redactions, '')
        FROM unnest(\(sessionIDs)::bigint[], \(seqs)::bigint[], \(times)::bigint[], \(senders)::text[], \(raws)::bytea[],
                    \(verbs)::text[], \(hasVerb)::boolean[], \(payloads)::bytea[], \(hasPayload)::boolean[],
                    \(replyCodes)::integer[], \(redactions)::text[])
             WITH ORDINALITY
             AS m(session_id, seq, at_us, sender, raw, verb, has_verb, payload, has_payload, reply_code, redactions, n)
        ORDER BY n
        RETURNING id)
        SELECT pg_notify(\(channel), (txid_current() % 4294967296) || ':' || min(id) || '-' || max(id)) FROM inserted
        """
    }
}
