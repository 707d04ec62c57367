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
}
