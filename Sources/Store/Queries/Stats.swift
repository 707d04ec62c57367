/// Counts and latencies over the sessions a filter selects.
public struct SessionStats: Sendable, Equatable {
    public struct Count: Sendable, Equatable {
        /// The verb, reply code or end reason; nil where the message had none (an empty line, raw data).
        public var key: String?
        public var count: Int64
    }

    public struct Client: Sendable, Equatable {
        public var host: String
        public var sessions: Int64
        public var messages: Int64
        public var bytes: Int64
    }

    /// Command→reply latency in microseconds.
    public struct Latency: Sendable, Equatable {
        public var count: Int
        public var p50: Int64
        public var p90: Int64
        public var p99: Int64
        public var max: Int64
    }

    public var sessions: Int64 = 0
    public var messages: Int64 = 0
    public var byVerb: [Count] = []
    public var byReplyCode: [Count] = []
    public var byEndReason: [Count] = []
    /// nil when no command got a reply.
    public var latency: Latency?
    public var busiestClients: [Client] = []
}

extension SessionQueries {
    /// Statistics over the sessions `filter` selects (by start time, client, kind…): verbs of client
    /// messages, codes of server messages, end reasons, and latency: each client message paired with
    /// the next server message of its session.
    public func stats(_ filter: SessionFilter, topClients: Int = 10) throws -> SessionStats {
        var stats = SessionStats()
        let conditions = filter.conditions()

        let reasons = try rows(
            "SELECT s.end_reason, count(*) FROM sessions s \(conditions.whereClause) GROUP BY s.end_reason ORDER BY 2 DESC, 1",
            conditions.values) { SessionStats.Count(key: $0.text(0), count: $0.int64(1)) }
        stats.byEndReason = reasons
        stats.sessions = reasons.reduce(0) { $0 + $1.count }

        stats.busiestClients = try rows("""
            SELECT s.client_host, count(*), sum(s.message_count), sum(s.bytes_from_client + s.bytes_from_server)
            FROM sessions s \(conditions.whereClause) GROUP BY s.client_host ORDER BY 2 DESC, 3 DESC, 1 LIMIT ?
            """, conditions.values + [.int(topClients)]) {
            SessionStats.Client(host: $0.text(0) ?? "", sessions: $0.int64(1), messages: $0.int64(2), bytes: $0.int64(3))
        }

        // One pass over the messages of the chosen sessions: block by block, each session's in order.
        let (sql, values) = Self.statsMessagesSQL(conditions)
        let statement = try database.cached(sql)
        defer { statement.reset() }
        try statement.bind(values)
        var verbs: [String?: Int64] = [:]
        var codes: [Int?: Int64] = [:]
        var latencies: [Int64] = []
        // Times of client messages not yet answered, per session of the current block (their
        // messages interleave).
        var waiting: [Int64: [Int64]] = [:]
        var currentBlock: Int64 = -1
        while try statement.step() {
            stats.messages += 1
            let session = statement.int64(0)
            if session / MessageLookup.sessionsPerBlock != currentBlock {
                currentBlock = session / MessageLookup.sessionsPerBlock
                waiting.removeAll(keepingCapacity: true)
            }
            let at = statement.int64(2)
            if statement.text(1) == Sender.server.rawValue {
                codes[statement.optionalInt(4), default: 0] += 1
                for sent in waiting[session] ?? [] { latencies.append(at - sent) }
                waiting[session] = nil
            } else {
                verbs[statement.text(3), default: 0] += 1
                waiting[session, default: []].append(at)
            }
        }
        stats.byVerb = verbs.map { SessionStats.Count(key: $0.key, count: $0.value) }.sorted(by: SessionStats.Count.descending)
        stats.byReplyCode = codes.map { SessionStats.Count(key: $0.key.map(String.init), count: $0.value) }
            .sorted(by: SessionStats.Count.descending)
        stats.latency = SessionStats.Latency(latencies)
        return stats
    }

    public func statsPlan(_ filter: SessionFilter) throws -> [String] {
        let conditions = filter.conditions()
        let (sql, values) = Self.statsMessagesSQL(conditions)
        return try plan(sql, values)
    }

    /// The sessions indexes choose the sessions, whose messages are read block by block.
    static func statsMessagesSQL(_ conditions: SQLConditions) -> (String, [SQLValue]) {
        let sql = """
            SELECT m.session_id, m.sender, m.at_us, m.verb, m.reply_code
            FROM \(MessageLookup.messagesOfChosenSessions(conditions))
            \(conditions.whereClause)
            """
        // The conditions appear twice: in the FROM clause and in the WHERE.
        return (sql, conditions.values + conditions.values)
    }
}

extension SessionStats.Count {
    /// Most frequent first; ties by key so output is stable.
    static func descending(_ a: Self, _ b: Self) -> Bool {
        a.count != b.count ? a.count > b.count : (a.key ?? "") < (b.key ?? "")
    }
}

extension SessionStats.Latency {
    /// Nearest-rank percentiles of `samples`; nil for no samples.
    init?(_ samples: [Int64]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        func rank(_ percent: Int) -> Int64 {
            let index = (percent * sorted.count + 99) / 100 - 1
            return sorted[Swift.min(Swift.max(index, 0), sorted.count - 1)]
        }
        self.init(count: sorted.count, p50: rank(50), p90: rank(90), p99: rank(99), max: sorted[sorted.count - 1])
    }
}
