import Recording

extension SessionQueries {
    /// The id of the newest message: following starts after it.
    public func latestMessageID() throws -> Int64 {
        try database.scalarInt("SELECT coalesce(max(id), 0) FROM messages") ?? 0
    }

    /// Messages recorded after message `afterID`, oldest first, at most `limit`. Session filters pick
    /// the sessions; verb and code filters pick the messages themselves.
    public func messages(after afterID: Int64, filter: SessionFilter, limit: Int) throws -> [StoredMessage] {
        let (sql, values) = followSQL(after: afterID, filter: filter, limit: limit)
        return try rows(sql, values) { StoredMessage($0) }
    }

    public func followPlan(_ filter: SessionFilter) throws -> [String] {
        let (sql, values) = followSQL(after: 0, filter: filter, limit: 100)
        return try plan(sql, values)
    }

    /// Messages drive (CROSS JOIN): the rowid range after the last one seen is all a poll reads.
    func followSQL(after afterID: Int64, filter: SessionFilter, limit: Int) -> (String, [SQLValue]) {
        var conditions = SQLConditions()
        conditions.add("m.id > ?", .integer(afterID))
        let sessionConditions = filter.conditions(messageFilters: false)
        if let verb = filter.verb { conditions.add("m.verb = ? COLLATE NOCASE", .text(verb)) }
        if let code = filter.replyCode { conditions.add("m.reply_code = ?", .int(code)) }
        let sql = """
            SELECT \(StoredMessage.columns) FROM messages m CROSS JOIN sessions s ON s.id = m.session_id
            \(conditions.whereClause)\(sessionConditions.andClause) ORDER BY m.id LIMIT ?
            """
        return (sql, conditions.values + sessionConditions.values + [.int(limit)])
    }
}
