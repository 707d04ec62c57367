import Recording

extension SessionQueries {
    /// Statistics over the sessions `filter` selects (by start time, client, kind…): verbs of client
    /// messages, codes of server messages, end reasons, and latency: each client message paired with
    /// the next server message of its session.
    public func stats(_ filter: SessionFilter, topClients: Int = 10) throws -> SessionStats {
        let conditions = filter.conditions()
        let reasons = try rows(
            "SELECT s.end_reason, count(*) FROM sessions s \(conditions.whereClause) GROUP BY s.end_reason ORDER BY 2 DESC, 1",
            conditions.values) { SessionStats.Count(key: $0.text(0), count: $0.int64(1)) }
        let clients = try rows("""
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
        var builder = SessionStatsBuilder(byEndReason: reasons, busiestClients: clients)
        var currentBlock: Int64 = -1
        while try statement.step() {
            let session = statement.int64(0)
            if session / MessageLookup.sessionsPerBlock != currentBlock {
                currentBlock = session / MessageLookup.sessionsPerBlock
                builder.forgetWaiting()
            }
            builder.add(session: session, decoding: statement.text(5) ?? "", seq: statement.int64(6),
                        sender: statement.text(1) == Sender.server.rawValue ? .server : .client,
                        atMicros: statement.int64(2), verb: statement.text(3), replyCode: statement.optionalInt(4),
                        fields: [MessageField](jsonText: statement.text(7)),
                        exchange: statement.optionalInt64(8).map {
                            ExchangeLink(requestSeq: $0, durationMicros: statement.optionalInt64(9) ?? 0)
                        })
        }
        return builder.build()
    }

    public func statsPlan(_ filter: SessionFilter) throws -> [String] {
        let conditions = filter.conditions()
        let (sql, values) = Self.statsMessagesSQL(conditions)
        return try plan(sql, values)
    }

    /// The sessions indexes choose the sessions, whose messages are read block by block.
    static func statsMessagesSQL(_ conditions: SQLConditions) -> (String, [SQLValue]) {
        let sql = """
            SELECT m.session_id, m.sender, m.at_us, m.verb, m.reply_code, s.decoding, m.seq, m.fields, m.exchange_seq, m.duration_us
            FROM \(MessageLookup.messagesOfChosenSessions(conditions))
            \(conditions.whereClause)
            """
        // The conditions appear twice: in the FROM clause and in the WHERE.
        return (sql, conditions.values + conditions.values)
    }
}
