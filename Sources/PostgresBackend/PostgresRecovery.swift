import PostgresNIO

/// Sessions a recorder left open when it died (kill -9, power loss, a lost server): the next
/// recorder of the same name closes them as `interrupted`, at the time of their last message and
/// with counters that match their messages.
enum PostgresRecovery {
    /// The first key of the advisory locks on recorder names: "WLRN".
    private static let nameLockSpace: Int32 = 0x574C_524E

    /// Every recorder holds a lock on its name while it runs (for its connection's life), so a
    /// second recorder of the same name can tell the first is alive. True when this link got it.
    static func holdName(_ link: PostgresLink, recorder: String) async throws -> Bool {
        try await link.rows("SELECT pg_try_advisory_lock(\(nameLockSpace), hashtext(\(recorder)))")
            .first?.decode(Bool.self) ?? false
    }

    /// Closes `recorder`'s open sessions unless another live recorder holds the name; returns how many.
    static func closeInterrupted(_ link: PostgresLink, recorder: String) async throws -> Int {
        guard try await holdName(link, recorder: recorder) else { return 0 }
        // In a transaction so that the count logged is what COMMIT kept.
        return try await link.transaction { link in
            try await link.rows("""
                UPDATE sessions s
                SET ended_us = coalesce(m.last_us, s.started_us), end_reason = 'interrupted',
                    bytes_from_client = m.from_client, bytes_from_server = m.from_server, message_count = m.messages
                FROM (SELECT o.id, max(m.at_us) AS last_us,
                             coalesce(sum(length(m.raw)) FILTER (WHERE m.sender = 'client'), 0) AS from_client,
                             coalesce(sum(length(m.raw)) FILTER (WHERE m.sender = 'server'), 0) AS from_server,
                             count(m.id) AS messages
                      FROM sessions o LEFT JOIN messages m ON m.session_id = o.id
                      WHERE o.recorder = \(recorder) AND o.ended_us IS NULL
                      GROUP BY o.id) m
                WHERE s.id = m.id
                RETURNING s.id
                """).count
        }
    }
}
