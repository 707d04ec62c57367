import Recording

extension SessionQueries {
    /// The id of the newest message: following starts after it.
    public func latestMessageID() throws -> Int64 {
        try database.scalarInt("SELECT coalesce(max(id), 0) FROM messages") ?? 0
    }

    /// Messages recorded after message `afterID`, oldest first, at most `limit`. Session filters pick
    /// the sessions; verb and code filters pick the messages themselves.
    public func messages(after afterID: Int64, filter: SessionFilter, limit: Int) throws -> [StoredMessage] {
        let (sql, values) = followSQL(StoredMessage.columns, after: afterID, filter: filter, limit: limit)
        return try rows(sql, values) { StoredMessage($0) }
    }

    /// The same messages' facts, without their bytes.
    public func messageFacts(after afterID: Int64, filter: SessionFilter, limit: Int) throws -> [MessageFacts] {
        let (sql, values) = followSQL(MessageFacts.columns, after: afterID, filter: filter, limit: limit)
        return try rows(sql, values) { MessageFacts($0) }
    }

    public func followPlan(_ filter: SessionFilter) throws -> [String] {
        let (sql, values) = followSQL(StoredMessage.columns, after: 0, filter: filter, limit: 100)
        return try plan(sql, values)
    }

    /// Messages drive (CROSS JOIN): the rowid range after the last one seen is all a poll reads.
    func followSQL(_ columns: String, after afterID: Int64, filter: SessionFilter, limit: Int) -> (String, [SQLValue]) {
        var conditions = SQLConditions()
        conditions.add("m.id > ?", .integer(afterID))
        let sessionConditions = filter.conditions(messageFilters: false)
        if let verb = filter.verb { conditions.add("m.verb = ? COLLATE NOCASE", .text(verb)) }
        if let code = filter.replyCode { conditions.add("m.reply_code = ?", .int(code)) }
        let sql = """
            SELECT \(columns) FROM messages m CROSS JOIN sessions s ON s.id = m.session_id
            \(conditions.whereClause)\(sessionConditions.andClause) ORDER BY m.id LIMIT ?
            """
        return (sql, conditions.values + sessionConditions.values + [.int(limit)])
    }
}

extension MessageFacts {
    /// The columns `init(_:)` reads, over `messages m`.
    static let columns = "m.id, m.session_id, m.seq, m.sender, \(SegmentFiles.lengthSQL), m.verb, m.reply_code, m.fields, m.duration_us"

    init(_ statement: Statement) {
        self.init(id: statement.int64(0), sessionID: statement.int64(1), seq: statement.int64(2),
                  sender: statement.text(3) == Sender.server.rawValue ? .server : .client, byteCount: statement.int64(4),
                  verb: statement.text(5), replyCode: statement.optionalInt(6),
                  fields: [MessageField](jsonText: statement.text(7)), exchangeMicros: statement.optionalInt64(8))
    }
}
