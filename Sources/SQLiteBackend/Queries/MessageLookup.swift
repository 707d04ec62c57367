import Recording

/// How a session's messages are found: through the index on `(session_id / 64, id, session_id)`
/// (migration 0003). SQLite uses an expression index only when a query spells the same expression,
/// so every query that finds messages by session builds its SQL here.
public enum MessageLookup {
    /// Sessions per block: the divisor in the index expression of migration 0003, which every
    /// query below must spell the same way.
    static let sessionsPerBlock: Int64 = 64

    /// SQL that is true for the messages (alias `messages`) of the session `session`, an SQL
    /// expression without side effects: a numbered parameter such as `?1` or a column such as `s.id`.
    /// The unary `+` matters: given `session_id = ?1`, SQLite's constant propagation would rewrite
    /// `session_id / 64` into `?1 / 64`, and with no expression left to match it scans the table.
    public static func ofSession(_ session: String, messages alias: String = "m") -> String {
        "\(alias).session_id / \(sessionsPerBlock) = \(session) / \(sessionsPerBlock) AND +\(alias).session_id = \(session)"
    }

    /// An open session's counters as its messages so far give them (the row's own are written when
    /// it ends): scalar subqueries over the messages of `session` (as in `ofSession`), for the byte
    /// count of one side and for the message count. `SessionQueries.openCounters` counts a block of
    /// sessions in one grouped pass instead, with the same sums.
    static func bytesCounted(of session: String, from sender: Sender) -> String {
        "(SELECT coalesce(sum(\(SegmentFiles.lengthSQL)), 0) FROM messages m WHERE \(ofSession(session)) AND m.sender = '\(sender.rawValue)')"
    }

    static func messagesCounted(of session: String) -> String {
        "(SELECT count(*) FROM messages m WHERE \(ofSession(session)))"
    }

    /// `DELETE` of the messages of the sessions `chosen` (an SQL subquery of session ids), block by block.
    static func deleteMessages(ofSessions chosen: String) -> String {
        """
        DELETE FROM messages
        WHERE session_id / \(sessionsPerBlock) IN (SELECT DISTINCT id / \(sessionsPerBlock) FROM (\(chosen)))
          AND session_id IN (\(chosen))
        """
    }

    /// A FROM clause giving the messages (`m`) of the sessions (`s`) that `sessionConditions`
    /// choose: each block of 64 sessions holding a chosen session is read once, in id (wire) order
    /// within the block, rather than once per session. The conditions appear twice, so callers bind
    /// their values twice: for this clause, then for their own WHERE. No ORDER BY is needed for
    /// per-session order: the forced (CROSS JOIN) order reads each block's messages in index order.
    static func messagesOfChosenSessions(_ sessionConditions: SQLConditions) -> String {
        """
        (SELECT DISTINCT s.id / \(sessionsPerBlock) AS block FROM sessions s \(sessionConditions.whereClause)) chosen
        CROSS JOIN messages m ON m.session_id / \(sessionsPerBlock) = chosen.block
        CROSS JOIN sessions s ON s.id = m.session_id
        """
    }
}
