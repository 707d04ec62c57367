import Recording

/// How a session's messages are found: through `message_spans` (migration 0013), one row per
/// session per span of 256 consecutive message ids holding a message of the session, keyed by the
/// session's block of 64 sessions first. A span is read as a range of ids (the rowid), so every
/// query that finds messages by session builds its SQL here.
public enum MessageLookup {
    /// Sessions per block: `message_spans.session_block` is `session_id / 64`.
    static let sessionsPerBlock: Int64 = 64
    /// Message ids per span: `message_spans.span` is `messages.id / 256`.
    static let idsPerSpan: Int64 = 256

    /// A FROM clause of the messages (alias `messages`) of the session `session`, an SQL
    /// expression without side effects: a numbered parameter such as `?1` or a column such as `s.id`.
    /// Its spans (alias `<messages>_span`) come in span order and each span's messages in id order,
    /// so `ORDER BY <messages>_span.span, <messages>.id` is wire order and needs no sort.
    public static func messages(ofSession session: String, alias: String = "m") -> String {
        let span = "\(alias)_span"
        return """
            message_spans \(span) CROSS JOIN messages \(alias)
              ON \(span).session_block = \(session) / \(sessionsPerBlock) AND \(span).session_id = \(session)
             AND \(idsInSpan(span, messages: alias)) AND \(alias).session_id = \(session)
            """
    }

    /// A subquery of the ids of the messages of `session` (as in `messages(ofSession:)`).
    static func messageIDs(ofSession session: String) -> String {
        "SELECT one.id FROM \(messages(ofSession: session, alias: "one"))"
    }

    /// An open session's counters as its messages so far give them (the row's own are written when
    /// it ends): scalar subqueries over the messages of `session` (as in `messages(ofSession:)`), for
    /// the byte count of one side and for the message count. `SessionQueries.openCounters` counts a
    /// block of sessions in one grouped pass instead, with the same sums.
    static func bytesCounted(of session: String, from sender: Sender) -> String {
        "(SELECT coalesce(sum(\(SegmentFiles.lengthSQL)), 0) FROM \(messages(ofSession: session)) WHERE m.sender = '\(sender.rawValue)')"
    }

    static func messagesCounted(of session: String) -> String {
        "(SELECT count(*) FROM \(messages(ofSession: session)))"
    }

    /// Whether the session `session` has a message meeting `condition` (on alias `m`).
    static func anyMessage(ofSession session: String, where condition: String) -> String {
        "EXISTS (SELECT 1 FROM \(messages(ofSession: session)) WHERE \(condition))"
    }

    /// A subquery of the ids of the messages of the sessions `chosen` (an SQL subquery of session ids).
    static func messageIDs(ofSessions chosen: String) -> String {
        """
        SELECT m.id FROM \(messagesOfBlocks(
            spans: "sp.session_block IN (SELECT id / \(sessionsPerBlock) FROM (\(chosen))) AND sp.session_id IN (\(chosen))"))
        WHERE m.session_id IN (\(chosen))
        """
    }

    /// The spans of the sessions `chosen` (an SQL subquery of session ids), for deleting them with their messages.
    static func deleteSpans(ofSessions chosen: String) -> String {
        """
        DELETE FROM message_spans
        WHERE session_block IN (SELECT id / \(sessionsPerBlock) FROM (\(chosen))) AND session_id IN (\(chosen))
        """
    }

    /// A FROM clause giving the messages (`m`) of the sessions (`s`) that `sessionConditions`
    /// choose: each span holding a message of a chosen session's block is read once per block, in
    /// id (wire) order within the block, rather than once per session. The conditions appear twice,
    /// so callers bind their values twice: for this clause, then for their own WHERE, which drops
    /// the block's other sessions.
    static func messagesOfChosenSessions(_ sessionConditions: SQLConditions) -> String {
        """
        \(messagesOfBlocks(spans: "sp.session_block IN (SELECT s.id / \(sessionsPerBlock) FROM sessions s \(sessionConditions.whereClause))"))
        CROSS JOIN sessions s ON s.id = m.session_id
        """
    }

    /// A FROM clause of every message (`m`) of a block in the spans `message_spans sp` rows meeting
    /// `spans` name: block by block, each block's messages in id order (the forced CROSS JOIN order
    /// reads the distinct spans in key order, then each as a range of ids). Callers keep the
    /// sessions they want with their own condition on `m.session_id`.
    static func messagesOfBlocks(spans condition: String) -> String {
        """
        (SELECT DISTINCT sp.session_block AS block, sp.span AS span FROM message_spans sp WHERE \(condition)
         ORDER BY sp.session_block, sp.span) chosen_span
        CROSS JOIN messages m ON \(idsInSpan("chosen_span", messages: "m")) AND m.session_id / \(sessionsPerBlock) = chosen_span.block
        """
    }

    /// The rowid range of the span `span` (a `message_spans` alias or subquery with a `span` column).
    private static func idsInSpan(_ span: String, messages alias: String) -> String {
        "\(alias).id BETWEEN \(span).span * \(idsPerSpan) AND \(span).span * \(idsPerSpan) + \(idsPerSpan - 1)"
    }
}
