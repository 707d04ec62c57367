import Logging
import Migrations
import NIOCore
import PostgresNIO
import Recording

/// A PostgreSQL database as a `RecordingStore`. One connection, used by one caller at a time
/// (the `sessions` commands, replay, copy, the web viewer's requests in turn).
public final class PostgresStore: RecordingStore, @unchecked Sendable {
    private let link: PostgresLink
    private let logger: Logger

    private init(link: PostgresLink, logger: Logger) {
        self.link = link
        self.logger = logger
    }

    /// Opens the store. Reading needs the schema there and current; writing applies what is missing
    /// (`upgrading` hears of each migration applied to an existing schema), and creates the schema
    /// in an empty database only when `creating` (not for prune or delete: a typo in the URL must
    /// not make a new store, as with a SQLite file).
    public static func open(_ url: PostgresURL, forWriting: Bool, creating: Bool = true, logger: Logger,
                            upgrading: @escaping (Migration) -> Void = { _ in }) async throws -> PostgresStore {
        let link = try await PostgresLink.connect(url, logger: logger)
        do {
            if forWriting {
                if !creating { try await PostgresSchema().requireExisting(link) }
                try await PostgresSchema().migrate(link, nowMicros: WallClock.nowMicros(), willApply: upgrading)
            } else {
                try await PostgresSchema().check(link)
            }
            // Planning for what a store of recordings is: its pages are mostly cached or on SSD
            // (random reads cost about what sequential ones do: a stats query over a day of 1M
            // sessions went from a 10M-row hash join at 4.9 s to index lookups at 1.2 s), and
            // its queries are short (JIT compiling them cost more than it saved).
            try await link.rows("SET random_page_cost TO 1.1")
            try await link.rows("SET jit TO off")
        } catch {
            await link.close()
            throw error
        }
        return PostgresStore(link: link, logger: logger)
    }

    public func close() async {
        await link.close()
    }

    // MARK: reading

    public func list(_ filter: SessionFilter, limit: Int, before: SessionListPosition?) async throws -> [SessionSummary] {
        var sql = PostgresSQL()
        let conditions = listConditions(filter, before: before, &sql)
        sql.append("""
            SELECT \(SessionSummary.postgresColumns) FROM sessions s WHERE true\(conditions)
            ORDER BY \(filter.listsByID ? "s.id DESC" : "s.started_us DESC, s.id DESC") LIMIT \(sql.bind(limit))
            """)
        return try await link.rows(sql.query).map { try SessionSummary($0.makeRandomAccess()) }
    }

    public func countSessions(_ filter: SessionFilter, before: SessionListPosition?, upTo bound: Int) async throws -> Int {
        var sql = PostgresSQL()
        let conditions = listConditions(filter, before: before, &sql)
        sql.append("SELECT count(*) FROM (SELECT 1 FROM sessions s WHERE true\(conditions) LIMIT \(sql.bind(bound))) page")
        return Int(try await link.rows(sql.query).first?.decode(Int64.self) ?? 0)
    }

    /// The filter and the keyset of the protocol's order: start time then id, or the id alone with a verb or code filter.
    private func listConditions(_ filter: SessionFilter, before: SessionListPosition?, _ sql: inout PostgresSQL) -> String {
        let conditions = filter.conditions(&sql)
        guard let before else { return conditions }
        return conditions + (filter.listsByID
            ? " AND s.id < \(sql.bind(before.id))"
            : " AND (s.started_us, s.id) < (\(sql.bind(before.startedMicros)), \(sql.bind(before.id)))")
    }

    public func session(_ id: Int64) async throws -> SessionSummary {
        let rows = try await link.rows("SELECT \(unescaped: SessionSummary.postgresColumns) FROM sessions s WHERE s.id = \(id)")
        guard let row = rows.first else { throw RecordingError.noSuchSession(id) }
        return try SessionSummary(row.makeRandomAccess())
    }

    public func sessions(_ ids: [Int64], countingOpen: Bool) async throws -> [SessionSummary] {
        guard !ids.isEmpty else { return [] }
        let columns = countingOpen ? SessionSummary.postgresColumns : SessionSummary.postgresRowColumns
        return try await link.rows("SELECT \(unescaped: columns) FROM sessions s WHERE s.id = ANY(\(ids)) ORDER BY s.id")
            .map { try SessionSummary($0.makeRandomAccess()) }
    }

    public func endedSessions(among ids: [Int64]) async throws -> [SessionSummary] {
        try await link.rows("""
            SELECT \(unescaped: SessionSummary.postgresRowColumns) FROM sessions s
            WHERE s.id = ANY(\(ids)) AND s.ended_us IS NOT NULL ORDER BY s.id
            """).map { try SessionSummary($0.makeRandomAccess()) }
    }

    public func messages(ofSession id: Int64, after afterID: Int64, limit: Int) async throws -> [StoredMessage] {
        // Ordered as messages_by_session is: ORDER BY m.id alone let the planner walk the primary
        // key from the start, through every other session's messages (1.8 s on 10M messages).
        try await link.rows("""
            SELECT \(unescaped: StoredMessage.postgresColumns) FROM messages m
            WHERE m.session_id = \(id) AND m.id > \(afterID) ORDER BY m.session_id, m.id LIMIT \(limit)
            """).map { try StoredMessage($0.makeRandomAccess()) }
    }

    public func search(_ pattern: SearchPattern, filter: SessionFilter, limit: Int, context: Int) async throws -> [SearchHit] {
        let matches = if let needle = pattern.exactBytes {
            try await searchMatches(needle, filter: filter, limit: limit)
        } else {
            try await scanMatches(pattern, filter: filter, limit: limit)
        }
        var hits: [SearchHit] = []
        for (session, match) in matches {
            let around = try await link.rows("""
                SELECT \(unescaped: StoredMessage.postgresColumns) FROM messages m
                WHERE m.session_id = \(match.sessionID) AND m.seq BETWEEN \(match.seq - Int64(context)) AND \(match.seq + Int64(context))
                ORDER BY m.session_id, m.id
                """).map { try StoredMessage($0.makeRandomAccess()) }
            hits.append(SearchHit(session: session, match: match, context: around))
        }
        return hits
    }

    /// Newest first. Walking the primary key backwards finds a common match at once, but when
    /// little or nothing matches it is one process reading every row (6 s on 10M messages). So
    /// the newest `recentMessages` are searched that way, and the older ones, when more hits are
    /// wanted, by a parallel scan of the table (a third of the time, match or not).
    private func searchMatches(_ needle: [UInt8], filter: SessionFilter, limit: Int) async throws -> [(SessionSummary, StoredMessage)] {
        let newest = try await latestMessageID()
        let older = newest - recentMessages
        var found = try await matches(of: needle, filter: filter, ids: max(older + 1, 1)...max(newest, 1), limit: limit, on: link)
        if found.count < limit && older > 0 {
            found += try await link.transaction { link in
                try await link.rows("SET LOCAL enable_indexscan TO off")
                return try await self.matches(of: needle, filter: filter, ids: 1...older, limit: limit - found.count, on: link)
            }
        }
        return found
    }

    /// Settable for tests, which cannot afford a store that big.
    var recentMessages: Int64 = 262_144

    /// The newest `limit` messages with ids in `ids` that hold `needle`, with their sessions. The
    /// sessions are joined to the few hits only, not to every message that matches.
    private func matches(of needle: [UInt8], filter: SessionFilter, ids: ClosedRange<Int64>, limit: Int,
                         on link: PostgresLink) async throws -> [(SessionSummary, StoredMessage)] {
        var sql = PostgresSQL()
        let sessionConditions = filter.conditions(&sql, messageFilters: false)
        let messageConditions = filter.messageConditions(&sql)
        let chosenSessions = sessionConditions.isEmpty
            ? "" : " AND m.session_id IN (SELECT s.id FROM sessions s WHERE true\(sessionConditions))"
        sql.append("""
            SELECT \(SessionSummary.postgresColumns), \(StoredMessage.postgresColumns)
            FROM (SELECT * FROM messages m
                  WHERE m.id BETWEEN \(sql.bind(ids.lowerBound)) AND \(sql.bind(ids.upperBound))
                    AND position(\(sql.bind(ByteBuffer(bytes: needle)))::bytea IN m.raw) > 0\(messageConditions)\(chosenSessions)
                  ORDER BY m.id DESC LIMIT \(sql.bind(limit))) m
            JOIN sessions s ON s.id = m.session_id
            ORDER BY m.id DESC
            """)
        return try await link.rows(sql.query).map { row in
            let cells = row.makeRandomAccess()
            return (try SessionSummary(cells), try StoredMessage(cells, from: SessionSummary.postgresColumnCount))
        }
    }

    /// A pattern SQL cannot test byte for byte (any case, a regex) is tested here on each message the
    /// filters pick, newest first, a page at a time, until `limit` match: the scan `position` makes.
    private func scanMatches(_ pattern: SearchPattern, filter: SessionFilter, limit: Int) async throws -> [(SessionSummary, StoredMessage)] {
        let pageSize = 1_000
        var sessions: [Int64: SessionSummary] = [:]
        var found: [(SessionSummary, StoredMessage)] = []
        var below = Int64.max
        while found.count < limit {
            var sql = PostgresSQL()
            let conditions = searchConditions(filter, &sql)
            sql.append("""
                SELECT \(StoredMessage.postgresColumns) FROM messages m JOIN sessions s ON s.id = m.session_id
                WHERE m.id < \(sql.bind(below))\(conditions) ORDER BY m.id DESC LIMIT \(sql.bind(pageSize))
                """)
            let page = try await link.rows(sql.query).map { try StoredMessage($0.makeRandomAccess()) }
            for message in page where found.count < limit && pattern.matches(message.raw) {
                let owner = if let known = sessions[message.sessionID] { known } else { try await session(message.sessionID) }
                sessions[message.sessionID] = owner
                found.append((owner, message))
            }
            guard page.count == pageSize, let last = page.last else { break }
            below = last.id
        }
        return found
    }

    /// Search's filters: on the session, and verb and code on the message itself.
    private func searchConditions(_ filter: SessionFilter, _ sql: inout PostgresSQL) -> String {
        filter.conditions(&sql, messageFilters: false) + filter.messageConditions(&sql)
    }

    public func stats(_ filter: SessionFilter, topClients: Int) async throws -> SessionStats {
        // Ties break in byte order (COLLATE "C"), as on SQLite, whatever the database's locale.
        var reasonsSQL = PostgresSQL()
        let reasonConditions = filter.conditions(&reasonsSQL)
        reasonsSQL.append("""
            SELECT s.end_reason, count(*) FROM sessions s WHERE true\(reasonConditions)
            GROUP BY s.end_reason ORDER BY 2 DESC, s.end_reason COLLATE "C" NULLS FIRST
            """)
        let reasons = try await link.rows(reasonsSQL.query).map {
            let (key, count) = try $0.decode((String?, Int64).self)
            return SessionStats.Count(key: key, count: count)
        }
        var clientsSQL = PostgresSQL()
        let clientConditions = filter.conditions(&clientsSQL)
        clientsSQL.append("""
            SELECT s.client_host, count(*), sum(s.message_count)::bigint, sum(s.bytes_from_client + s.bytes_from_server)::bigint
            FROM sessions s WHERE true\(clientConditions)
            GROUP BY s.client_host ORDER BY 2 DESC, 3 DESC, s.client_host COLLATE "C" LIMIT \(clientsSQL.bind(topClients))
            """)
        let clients = try await link.rows(clientsSQL.query).map {
            let (host, sessions, messages, bytes) = try $0.decode((String, Int64, Int64, Int64).self)
            return SessionStats.Client(host: host, sessions: sessions, messages: messages, bytes: bytes)
        }
        var builder = SessionStatsBuilder(byEndReason: reasons, busiestClients: clients)
        var messagesSQL = PostgresSQL()
        let messageConditions = filter.conditions(&messagesSQL)
        messagesSQL.append("""
            SELECT m.session_id, m.sender, m.at_us, m.verb, m.reply_code, s.decoding, m.seq, m.fields, m.exchange_seq, m.duration_us
            FROM sessions s JOIN messages m ON m.session_id = s.id WHERE true\(messageConditions)
            ORDER BY m.session_id, m.id
            """)
        var currentSession: Int64 = -1
        do {
            for try await (session, sender, at, verb, code, decoding, seq, fields, exchangeSeq, duration)
                    in try await link.connection.query(messagesSQL.query, logger: logger)
                .decode((Int64, String, Int64, String?, Int?, String, Int64, String?, Int64?, Int64?).self) {
                if session != currentSession {
                    currentSession = session
                    builder.forgetWaiting()
                }
                builder.add(session: session, decoding: decoding, seq: seq, sender: sender == Sender.server.rawValue ? .server : .client,
                            atMicros: at, verb: verb, replyCode: code, fields: [MessageField](jsonText: fields),
                            exchange: exchangeSeq.map { ExchangeLink(requestSeq: $0, durationMicros: duration ?? 0) })
            }
        } catch {
            throw PostgresStoreError.from(error, url: link.url)
        }
        return builder.build()
    }

    public func latestMessageID() async throws -> Int64 {
        try await link.rows("SELECT coalesce(max(id), 0)::bigint FROM messages").first?.decode(Int64.self) ?? 0
    }

    public func messages(after afterID: Int64, filter: SessionFilter, limit: Int) async throws -> [StoredMessage] {
        try await messages(in: afterID + 1...Int64.max, filter: filter, limit: limit)
    }

    public func messageFacts(after afterID: Int64, filter: SessionFilter, limit: Int) async throws -> [MessageFacts] {
        try await messages(in: afterID + 1...Int64.max, filter: filter, limit: limit)
    }

    /// Messages (or their facts) with ids in `ids` (inserted by `transaction`, when given), in id
    /// order, at most `limit`, as `filter` picks them.
    func messages<Row: PostgresMessageRow>(in ids: ClosedRange<Int64>, insertedBy transaction: Int64? = nil, filter: SessionFilter,
                                           limit: Int) async throws -> [Row] {
        var sql = PostgresSQL()
        let sessionConditions = filter.conditions(&sql, messageFilters: false)
        let messageConditions = filter.messageConditions(&sql)
        let ownRows = transaction.map { " AND m.xmin::text = \(sql.bind(String($0)))" } ?? ""
        sql.append("""
            SELECT \(Row.postgresColumns) FROM messages m JOIN sessions s ON s.id = m.session_id
            WHERE m.id BETWEEN \(sql.bind(ids.lowerBound)) AND \(sql.bind(ids.upperBound))\(ownRows)\(sessionConditions)\(messageConditions)
            ORDER BY m.id LIMIT \(sql.bind(limit))
            """)
        return try await link.rows(sql.query).map { try Row($0.makeRandomAccess(), from: 0) }
    }

    /// Message ids are drawn when a transaction inserts, not when it commits, so with several
    /// recorders a later id can become visible before an earlier one: following by id would miss
    /// messages. Each recorder's transaction names its range of ids in a notification, which
    /// PostgreSQL delivers only on commit and in commit order.
    public func follow() async throws -> any FollowCursor {
        try await PostgresFollowCursor.start(store: self, url: link.url, logger: logger)
    }

    // MARK: writing

    public func prune(startedBefore cutoffMicros: Int64, compact: Bool) async throws -> PruneResult {
        let sizeBefore = try await databaseSize()
        let (sessions, messages, open) = try await link.transaction { link in
            let open = try await link.rows(
                "SELECT count(*) FROM sessions WHERE started_us < \(cutoffMicros) AND ended_us IS NULL")
                .first?.decode(Int64.self) ?? 0
            let messages = try await link.rows("""
                WITH chosen AS (SELECT id FROM sessions WHERE started_us < \(cutoffMicros) AND ended_us IS NOT NULL),
                     gone AS (DELETE FROM messages WHERE session_id IN (SELECT id FROM chosen) RETURNING 1)
                SELECT count(*) FROM gone
                """).first?.decode(Int64.self) ?? 0
            let sessions = try await link.rows("""
                WITH gone AS (DELETE FROM sessions WHERE started_us < \(cutoffMicros) AND ended_us IS NOT NULL RETURNING 1)
                SELECT count(*) FROM gone
                """).first?.decode(Int64.self) ?? 0
            return (sessions, messages, open)
        }
        if compact {
            for table in ["messages", "sessions", "session_verbs", "session_reply_codes"] {
                try await link.rows(PostgresQuery(unsafeSQL: "VACUUM FULL \(table)"))
            }
        }
        let sizeAfter = try await databaseSize()
        return PruneResult(sessions: sessions, messages: messages, openSessionsKept: open,
                           freedBytes: max(0, sizeBefore - sizeAfter), sizeBefore: sizeBefore, sizeAfter: sizeAfter)
    }

    /// The bytes of wirelog's tables with their indexes and TOAST.
    private func databaseSize() async throws -> Int64 {
        try await link.rows("""
            SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
            WHERE c.relname IN ('sessions', 'messages', 'session_verbs', 'session_reply_codes')
              AND c.relnamespace = current_schema()::regnamespace
            """).first?.decode(Int64.self) ?? 0
    }

    public func delete(sessions ids: [Int64]) async throws -> Int {
        try await link.transaction { link in
            try await link.rows("DELETE FROM messages WHERE session_id = ANY(\(ids))")
            return try await link.rows("DELETE FROM sessions WHERE id = ANY(\(ids)) RETURNING id").count
        }
    }

    /// Whole sessions in one transaction: a lock that keeps concurrent copies from storing one
    /// origin twice, the origins already here (skipped: nil), then everything as one statement.
    public func write(_ sessions: [(session: CompleteSession, origin: String?)]) async throws -> [Int64?] {
        try await link.transaction { link in
            let origins = sessions.compactMap(\.origin)
            var present: Set<String> = []
            if !origins.isEmpty {
                try await link.rows("SELECT pg_advisory_xact_lock(\(Self.copyLockKey))")
                present = Set(try await link.rows("SELECT origin FROM sessions WHERE origin = ANY(\(origins)::text[])")
                    .map { try $0.decode(String.self) })
            }
            var commit = PostgresCommit()
            var references: [Int64?] = []
            for (session, origin) in sessions {
                // Also a second copy of one origin in this call.
                if let origin, !present.insert(origin).inserted {
                    references.append(nil)
                    continue
                }
                let reference = commit.insertSession(session.info, tls: session.info.tls, end: session.end,
                                                     endReason: session.endReason, origin: origin,
                                                     faults: session.faults.isEmpty ? nil : session.faults)
                for message in session.messages { commit.insertMessage(message, sessionID: reference) }
                for verb in Set(session.messages.compactMap { $0.verb?.uppercased() }) { commit.noteVerb(verb, sessionID: reference) }
                for code in Set(session.messages.compactMap(\.replyCode)) { commit.noteReplyCode(code, sessionID: reference) }
                references.append(reference)
            }
            guard references.contains(where: { $0 != nil }) else { return references }
            let ids = try await link.execute(commit.prepared).first ?? []
            // Reference -n is the n-th new session.
            return references.map { $0.map { ids[Int(-$0) - 1] } }
        }
    }

    /// The advisory lock `write` holds while it checks origins (the schema's lock is 0x57524C47).
    private static let copyLockKey: Int64 = 0x57524C47_434F5059

    public func session(origin: String) async throws -> Int64? {
        try await link.rows("SELECT id FROM sessions WHERE origin = \(origin)").first?.decode(Int64.self)
    }

    /// `wirelog status`: the database's size as PostgreSQL counts it (tables, indexes, TOAST).
    public func status() async throws -> StoreStatus {
        let counts = try await link.rows("""
            SELECT count(*), count(*) FILTER (WHERE ended_us IS NULL), min(started_us), max(started_us),
                   pg_database_size(current_database()), (SELECT max(version) FROM wirelog_migrations)::bigint
            FROM sessions
            """).first?.decode((Int64, Int64, Int64?, Int64?, Int64, Int64?).self)
        let recorders = try await link.rows("""
            SELECT recorder, count(*) FROM sessions WHERE ended_us IS NULL GROUP BY recorder ORDER BY 2 DESC, 1
            """).map { try $0.decode((String, Int64).self) }
        return StoreStatus(
            kind: "postgres", schemaVersion: Int(counts?.5 ?? 0),
            parts: [.init(name: "database \(link.url.database)", bytes: counts?.4 ?? 0)],
            sessions: counts?.0 ?? 0, openSessions: counts?.1 ?? 0,
            oldestStartedMicros: counts?.2, newestStartedMicros: counts?.3,
            recorders: recorders.map { .init(name: $0.0, openSessions: $0.1) })
    }

    public func identity() async throws -> String {
        try await link.rows("SELECT id FROM store_identity").first?.decode(String.self) ?? ""
    }

    public func redaction() async throws -> StoreRedaction {
        try await PostgresRedaction.read(link)
    }
}
