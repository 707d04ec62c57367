/// How a session's messages are found: through the index on `(session_id / 64, id, session_id)`
/// (migration 0003). SQLite uses an expression index only when a query spells the same expression,
/// so lookups of one session are written here; stats and prune read whole blocks (`session_id / 64`).
public enum MessageLookup {
    /// SQL that is true for the messages (alias `messages`) of the session `session`, an SQL
    /// expression without side effects: a numbered parameter such as `?1` or a column such as `s.id`.
    /// The unary `+` matters: given `session_id = ?1`, SQLite's constant propagation would rewrite
    /// `session_id / 64` into `?1 / 64`, and with no expression left to match it scans the table.
    public static func ofSession(_ session: String, messages alias: String = "m") -> String {
        "\(alias).session_id / 64 = \(session) / 64 AND +\(alias).session_id = \(session)"
    }

    /// A FROM clause giving the messages (`m`) of the sessions (`s`) that `sessionConditions`
    /// choose: each block of 64 sessions holding a chosen session is read once, in id (wire) order
    /// within the block, rather than once per session. The conditions' values are bound twice:
    /// `values(…)` gives them in order. No ORDER BY is needed for per-session order: the forced
    /// (CROSS JOIN) order reads each block's messages in index order.
    static func messagesOfChosenSessions(_ sessionConditions: SQLConditions) -> String {
        """
        (SELECT DISTINCT s.id / 64 AS block FROM sessions s \(sessionConditions.whereClause)) chosen
        CROSS JOIN messages m ON m.session_id / 64 = chosen.block
        CROSS JOIN sessions s ON s.id = m.session_id
        """
    }
}
