import Foundation
import Recording

extension SessionSummary {
    /// The columns `init(_:from:)` reads, over `sessions s`. For an open session the counts come
    /// from its messages so far (the row's own counters are written when it ends).
    static let columns = selecting(counters: """
        CASE WHEN s.ended_us IS NULL THEN \(MessageLookup.bytesCounted(of: "s.id", from: .client)) ELSE s.bytes_from_client END,
        CASE WHEN s.ended_us IS NULL THEN \(MessageLookup.bytesCounted(of: "s.id", from: .server)) ELSE s.bytes_from_server END,
        CASE WHEN s.ended_us IS NULL THEN \(MessageLookup.messagesCounted(of: "s.id")) ELSE s.message_count END
        """)
    /// The columns as the row holds them: an open session's counters are zero.
    static let rowColumns = selecting(counters: "s.bytes_from_client, s.bytes_from_server, s.message_count")

    private static func selecting(counters: String) -> String {
        """
        s.id, s.kind, s.decoding, s.recorder, s.client_host, s.client_port, s.server_host, s.server_port, s.started_us,
        s.ended_us, s.end_reason, \(counters), s.replay_of, s.tls, s.faults
        """
    }
    static let columnCount: Int32 = 17

    init(_ statement: Statement, from first: Int32 = 0) {
        self.init(
            id: statement.int64(first), kind: statement.text(first + 1) ?? "", decoding: statement.text(first + 2) ?? "",
            recorder: statement.text(first + 3) ?? "",
            clientHost: statement.text(first + 4) ?? "", clientPort: statement.int(first + 5),
            serverHost: statement.text(first + 6) ?? "", serverPort: statement.int(first + 7),
            startedMicros: statement.int64(first + 8), endedMicros: statement.optionalInt64(first + 9),
            endReason: statement.text(first + 10),
            bytesFromClient: statement.int64(first + 11), bytesFromServer: statement.int64(first + 12),
            messageCount: statement.int64(first + 13), replayOf: statement.optionalInt64(first + 14),
            tls: statement.text(first + 15).flatMap(TLSDetails.init(jsonText:)),
            faults: [FaultRecord](jsonText: statement.text(first + 16)))
    }
}

extension StoredMessage {
    /// The columns `init(_:from:)` reads, over `messages m`.
    static let columns = """
        m.id, m.session_id, m.seq, m.at_us, m.sender, \(SegmentFiles.bytesSQL), m.verb, m.payload, m.reply_code, m.answered_by,
        m.redactions, m.fields, m.decode_error, m.exchange_seq, m.duration_us
        """

    init(_ statement: Statement, from first: Int32 = 0) {
        self.init(
            id: statement.int64(first), sessionID: statement.int64(first + 1), seq: statement.int64(first + 2),
            atMicros: statement.int64(first + 3),
            sender: statement.text(first + 4) == Sender.server.rawValue ? .server : .client,
            raw: statement.blob(first + 5) ?? [], verb: statement.text(first + 6), payload: statement.blob(first + 7),
            replyCode: statement.optionalInt(first + 8), answeredBy: statement.optionalInt64(first + 9),
            redactions: [RedactedSpan](storedText: statement.text(first + 10)),
            fields: [MessageField](jsonText: statement.text(first + 11)), decodeError: statement.text(first + 12),
            exchange: statement.optionalInt64(first + 13).map {
                ExchangeLink(requestSeq: $0, durationMicros: statement.optionalInt64(first + 14) ?? 0)
            })
    }
}

/// The SQL of the read side: list, show and search, over a connection from `SQLiteFile`.
public struct SessionQueries {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    // MARK: list

    /// Sessions matching `filter`, newest first, at most `limit`, after `before` in that order.
    public func list(_ filter: SessionFilter, limit: Int, before: SessionListPosition? = nil) throws -> [SessionSummary] {
        if filter.listsByID {
            return try listByMessageIndex(filter, limit: limit, belowID: before?.id ?? Int64.max)
        }
        let (sql, values) = listSQL(filter, limit: limit, before: before)
        return try rows(sql, values) { SessionSummary($0) }
    }

    /// Newest first by start time then id. A page after `before` keeps the range on `started_us`
    /// (sessions_by_start and the other start-time indexes) and leaves only equal start times to the id test.
    func listSQL(_ filter: SessionFilter, limit: Int, before: SessionListPosition? = nil) -> (String, [SQLValue]) {
        let conditions = listConditions(filter, before: before)
        let sql = "SELECT \(SessionSummary.columns) FROM sessions s \(conditions.whereClause) ORDER BY s.started_us DESC, s.id DESC LIMIT ?"
        return (sql, conditions.values + [.int(limit)])
    }

    private func listConditions(_ filter: SessionFilter, before: SessionListPosition?) -> SQLConditions {
        var conditions = filter.conditions()
        if let before {
            if filter.listsByID {
                conditions.add("s.id < ?", .integer(before.id))
            } else {
                conditions.add("s.started_us <= ? AND (s.started_us < ? OR s.id < ?)",
                               .integer(before.startedMicros), .integer(before.startedMicros), .integer(before.id))
            }
        }
        return conditions
    }

    /// The sessions `list` would give after `before`, counted up to `bound` (the same indexes, no row read twice).
    public func countSessions(_ filter: SessionFilter, before: SessionListPosition?, upTo bound: Int) throws -> Int {
        let conditions = listConditions(filter, before: before)
        let sql = "SELECT count(*) FROM (SELECT 1 FROM sessions s \(conditions.whereClause) LIMIT ?)"
        let statement = try database.cached(sql)
        defer { statement.reset() }
        try statement.bind(conditions.values + [.int(bound)])
        _ = try statement.step()
        return statement.int(0)
    }

    /// With a verb or code filter, walk session_verbs / session_reply_codes from the newest session id
    /// (below `belowID`) down and check each session against the rest: a rare verb costs a few entries,
    /// a common one stops after `limit` sessions; neither reads the messages table. Session id order.
    private func listByMessageIndex(_ filter: SessionFilter, limit: Int, belowID: Int64) throws -> [SessionSummary] {
        let batchSize = 256
        let (idSQL, driverValue) = sessionIDsSQL(filter)
        var rest = filter
        if filter.verb != nil { rest.verb = nil } else { rest.replyCode = nil }
        let restConditions = rest.conditions()
        let sessionStatement = try database.cached(
            "SELECT \(SessionSummary.columns) FROM sessions s WHERE s.id = ?\(restConditions.andClause)")
        let idStatement = try database.cached(idSQL)
        defer { idStatement.reset(); sessionStatement.reset() }

        var found: [SessionSummary] = []
        var below = belowID
        while found.count < limit {
            idStatement.reset()
            try idStatement.bind([driverValue, .integer(below), .int(batchSize)])
            var ids: [Int64] = []
            while try idStatement.step() { ids.append(idStatement.int64(0)) }
            for id in ids where found.count < limit {
                sessionStatement.reset()
                try sessionStatement.bind([.integer(id)] + restConditions.values)
                if try sessionStatement.step() { found.append(SessionSummary(sessionStatement)) }
            }
            guard ids.count == batchSize, let last = ids.last else { break }
            below = last
        }
        return found
    }

    private func sessionIDsSQL(_ filter: SessionFilter) -> (String, SQLValue) {
        let (table, column, value): (String, String, SQLValue) = filter.verb.map { ("session_verbs", "verb", .text($0)) }
            ?? ("session_reply_codes", "reply_code", .optionalInt(filter.replyCode))
        let sql = "SELECT session_id FROM \(table) WHERE \(column) = ? AND session_id < ? ORDER BY session_id DESC LIMIT ?"
        return (sql, value)
    }

    // MARK: show

    /// The session with this id, or `RecordingError.noSuchSession`.
    public func session(_ id: Int64) throws -> SessionSummary {
        let statement = try database.cached("SELECT \(SessionSummary.columns) FROM sessions s WHERE s.id = ?")
        defer { statement.reset() }
        try statement.bind([.integer(id)])
        guard try statement.step() else { throw RecordingError.noSuchSession(id) }
        return SessionSummary(statement)
    }

    /// Those of the sessions `ids` that have ended, in id order.
    public func endedSessions(among ids: [Int64]) throws -> [SessionSummary] {
        try sessionRows(ids, where: "s.ended_us IS NOT NULL")
    }

    /// The sessions `ids` in id order, those that do not exist left out. With `countingOpen` an open
    /// session's counters are counted from its messages, the open sessions of a block of 64 in one
    /// pass over the block's index entries (one by one, 50 busy sessions of a block read it 50
    /// times); without, they are zero as in the row, which costs nothing however much it holds.
    public func sessions(_ ids: [Int64], countingOpen: Bool) throws -> [SessionSummary] {
        guard !ids.isEmpty else { return [] }
        return try database.transaction(.deferred) {
            var sessions = try sessionRows(ids)
            guard countingOpen else { return sessions }
            let openByBlock = Dictionary(grouping: sessions.indices.filter { sessions[$0].endedMicros == nil }) {
                sessions[$0].id / MessageLookup.sessionsPerBlock
            }
            for (block, members) in openByBlock {
                let counters = try openCounters(ofSessions: members.map { sessions[$0].id }, inBlock: block)
                for index in members {
                    guard let counted = counters[sessions[index].id] else { continue }
                    sessions[index].bytesFromClient = counted.fromClient
                    sessions[index].bytesFromServer = counted.fromServer
                    sessions[index].messageCount = counted.messages
                }
            }
            return sessions
        }
    }

    /// The rows of the sessions `ids` that meet `condition`, in id order.
    private func sessionRows(_ ids: [Int64], where condition: String = "true") throws -> [SessionSummary] {
        try rows("""
            SELECT \(SessionSummary.rowColumns) FROM sessions s
            WHERE s.id IN (SELECT value FROM json_each(?)) AND \(condition) ORDER BY s.id
            """, [Self.idList(ids)]) { SessionSummary($0) }
    }

    /// Message and byte counts of the sessions `ids`, all of block `block`, from one pass over the block.
    private func openCounters(ofSessions ids: [Int64], inBlock block: Int64)
        throws -> [Int64: (fromClient: Int64, fromServer: Int64, messages: Int64)] {
        let counted = try rows("""
            SELECT m.session_id,
                   coalesce(sum(CASE WHEN m.sender = 'client' THEN \(SegmentFiles.lengthSQL) END), 0),
                   coalesce(sum(CASE WHEN m.sender = 'server' THEN \(SegmentFiles.lengthSQL) END), 0),
                   count(*)
            FROM \(MessageLookup.messagesOfBlocks(spans: "sp.session_block = ?1 AND sp.session_id IN (SELECT value FROM json_each(?2))"))
            WHERE m.session_id IN (SELECT value FROM json_each(?2))
            GROUP BY m.session_id
            """, [.integer(block), Self.idList(ids)]) { statement in
            (statement.int64(0), (fromClient: statement.int64(1), fromServer: statement.int64(2), messages: statement.int64(3)))
        }
        return Dictionary(counted, uniquingKeysWith: { first, _ in first })
    }

    /// Ids as one bound value, a JSON array read with `json_each`: one statement (cached once)
    /// whatever their number, with no limit of host parameters.
    private static func idList(_ ids: [Int64]) -> SQLValue {
        .text("[" + ids.map(String.init).joined(separator: ",") + "]")
    }

    /// The session's messages in wire order after message `afterID`, at most `limit`.
    public func messages(ofSession id: Int64, after afterID: Int64, limit: Int) throws -> [StoredMessage] {
        try rows(Self.sessionMessagesSQL, [.integer(id), .integer(afterID), .int(limit)]) { StoredMessage($0) }
    }

    static let sessionMessagesSQL =
        "SELECT \(StoredMessage.columns) FROM \(MessageLookup.messages(ofSession: "?1")) WHERE m_span.span >= ?2 / \(MessageLookup.idsPerSpan) AND m.id > ?2 ORDER BY m_span.span, m.id LIMIT ?3"

    // MARK: search

    /// Messages whose raw bytes contain `needle` (compared as bytes), newest first, at most `limit`,
    /// each with `context` messages either side. Verb and code filters apply to the matching message.
    public func search(_ pattern: SearchPattern, filter: SessionFilter, limit: Int, context: Int) throws -> [SearchHit] {
        let matches = try pattern.exactBytes.map { try searchMatches($0, filter: filter, limit: limit) }
            ?? scanMatches(pattern, filter: filter, limit: limit)
        let around = try database.cached(
            "SELECT \(StoredMessage.columns) FROM \(MessageLookup.messages(ofSession: "?1")) WHERE m.seq BETWEEN ?2 AND ?3 ORDER BY m_span.span, m.id")
        defer { around.reset() }
        return try matches.map { session, match in
            around.reset()
            try around.bind([.integer(match.sessionID), .integer(match.seq - Int64(context)), .integer(match.seq + Int64(context))])
            var neighbours: [StoredMessage] = []
            while try around.step() { neighbours.append(StoredMessage(around)) }
            return SearchHit(session: session, match: match, context: neighbours)
        }
    }

    /// A search with no session filter reads every message until it has `limit` matches. Split by
    /// message id into one range per core, each read on its own connection, newest range first,
    /// a search for rare bytes takes a fraction of the time.
    private func searchMatches(_ needle: [UInt8], filter: SessionFilter, limit: Int) throws -> [(SessionSummary, StoredMessage)] {
        let inRows = try rowMatches(needle, filter: filter, limit: limit)
        // Large messages are searched from their side table, so that the scan of every other
        // message tests nothing more than it did before segment files.
        guard try database.scalarInt("SELECT EXISTS (SELECT 1 FROM message_segments)") == 1 else { return inRows }
        let (sql, values) = searchedMessagesSQL(filter, columns: "\(SessionSummary.columns), \(StoredMessage.columns)", limit: limit) {
            $0.add("""
                m.id IN (SELECT x.message_id FROM message_segments x
                         WHERE instr(wirelog_segment_bytes(x.segment, x.segment_offset, x.byte_count), ?) > 0)
                """, .blob(needle))
        }
        let inSegments = try Self.matchRows(database, sql, values)
        return Array((inRows + inSegments).sorted { $0.1.id > $1.1.id }.prefix(limit))
    }

    /// Matches among the messages whose bytes are in their row.
    private func rowMatches(_ needle: [UInt8], filter: SessionFilter, limit: Int) throws -> [(SessionSummary, StoredMessage)] {
        let parts = min(ProcessInfo.processInfo.activeProcessorCount, 4)
        let newest = try latestMessageID()
        guard !filter.narrowsSessions, parts > 1, newest >= 100_000 else {
            let (sql, values) = searchSQL(needle, filter: filter, limit: limit)
            return try Self.matchRows(database, sql, values)
        }
        let step = newest / Int64(parts) + 1
        let statements = (0..<Int64(parts)).reversed().map {
            searchSQL(needle, filter: filter, limit: limit, idRange: ($0 * step + 1)...min(($0 + 1) * step, newest))
        }
        let results = ParallelResults<[(SessionSummary, StoredMessage)]>(count: parts)
        let (path, mode) = (database.path, database.mode)
        DispatchQueue.concurrentPerform(iterations: parts) { index in
            let (sql, values) = statements[index]
            results.set(index, Result { try Self.matchRows(Database(path: path, mode: mode == .immutable ? .immutable : .readOnly), sql, values) })
        }
        return Array(try results.values().joined().prefix(limit))
    }

    private static func matchRows(_ db: Database, _ sql: String, _ values: [SQLValue]) throws -> [(SessionSummary, StoredMessage)] {
        try SessionQueries(database: db).rows(sql, values) {
            (SessionSummary($0), StoredMessage($0, from: SessionSummary.columnCount))
        }
    }

    func searchSQL(_ needle: [UInt8], filter: SessionFilter, limit: Int, idRange: ClosedRange<Int64>? = nil) -> (String, [SQLValue]) {
        searchedMessagesSQL(filter, columns: "\(SessionSummary.columns), \(StoredMessage.columns)", limit: limit) { conditions in
            if let idRange { conditions.add("m.id BETWEEN ? AND ?", .integer(idRange.lowerBound), .integer(idRange.upperBound)) }
            conditions.add("instr(m.raw, ?) > 0", .blob(needle))
        }
    }

    /// A pattern the SQL cannot test (any case, a regex) is tested here on each message the filters
    /// pick, newest first, a page at a time, until `limit` match: the same scan `instr` makes.
    private func scanMatches(_ pattern: SearchPattern, filter: SessionFilter, limit: Int) throws -> [(SessionSummary, StoredMessage)] {
        let pageSize = 1_000
        var sessions: [Int64: SessionSummary] = [:]
        var found: [(SessionSummary, StoredMessage)] = []
        var below = Int64.max
        while found.count < limit {
            let (sql, values) = searchedMessagesSQL(filter, columns: StoredMessage.columns, limit: pageSize) {
                $0.add("m.id < ?", .integer(below))
            }
            let page = try rows(sql, values) { StoredMessage($0) }
            for message in page where found.count < limit && pattern.matches(message.raw) {
                let owner = try sessions[message.sessionID] ?? session(message.sessionID)
                sessions[message.sessionID] = owner
                found.append((owner, message))
            }
            guard page.count == pageSize, let last = page.last else { break }
            below = last.id
        }
        return found
    }

    /// `columns` of the messages the filters pick, newest first, with the conditions `narrowing` adds.
    private func searchedMessagesSQL(_ filter: SessionFilter, columns: String, limit: Int,
                                     narrowing: (inout SQLConditions) -> Void) -> (String, [SQLValue]) {
        let sessionConditions = filter.conditions(messageFilters: false)
        var conditions = sessionConditions
        narrowing(&conditions)
        if let verb = filter.verb { conditions.add("m.verb = ? COLLATE NOCASE", .text(verb)) }
        if let code = filter.replyCode { conditions.add("m.reply_code = ?", .int(code)) }
        // Without a session filter, scan messages newest first and stop at `limit`; with one, let the
        // sessions indexes pick the sessions and search only their messages.
        let (from, fromValues) = filter.narrowsSessions
            ? (MessageLookup.messagesOfChosenSessions(sessionConditions), sessionConditions.values)
            : ("messages m CROSS JOIN sessions s ON s.id = m.session_id", [])
        let sql = "SELECT \(columns) FROM \(from) \(conditions.whereClause) ORDER BY m.id DESC LIMIT ?"
        return (sql, fromValues + conditions.values + [.int(limit)])
    }

    // MARK: plans

    /// SQLite's plan for the statements `list` and `search` run: one line per plan step.
    public func listPlan(_ filter: SessionFilter, limit: Int = 50, before: SessionListPosition? = nil) throws -> [String] {
        if filter.listsByID {
            let (sql, value) = sessionIDsSQL(filter)
            return try plan(sql, [value, .integer(before?.id ?? Int64.max), .int(limit)])
        }
        let (sql, values) = listSQL(filter, limit: limit, before: before)
        return try plan(sql, values)
    }

    public func searchPlan(_ needle: [UInt8], filter: SessionFilter, limit: Int = 50) throws -> [String] {
        let (sql, values) = searchSQL(needle, filter: filter, limit: limit)
        return try plan(sql, values)
    }

    public func showPlan() throws -> [String] {
        try plan(Self.sessionMessagesSQL, [.integer(1), .integer(0), .int(1_000)])
    }

    func plan(_ sql: String, _ values: [SQLValue]) throws -> [String] {
        let statement = try database.prepare("EXPLAIN QUERY PLAN " + sql)
        try statement.bind(values)
        var steps: [String] = []
        while try statement.step() { steps.append(statement.text(3) ?? "") }
        return steps
    }

    // MARK: helpers

    func rows<T>(_ sql: String, _ values: [SQLValue], _ make: (Statement) -> T) throws -> [T] {
        let statement = try database.cached(sql)
        defer { statement.reset() }
        try statement.bind(values)
        var result: [T] = []
        while try statement.step() { result.append(make(statement)) }
        return result
    }
}

/// One result per parallel worker, filled from several threads.
private final class ParallelResults<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<T, Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Result<T, Error>) {
        lock.withLock { slots[index] = result }
    }

    /// The values in worker order; the first failure is thrown.
    func values() throws -> [T] {
        try lock.withLock { slots }.map { try $0!.get() }
    }
}
