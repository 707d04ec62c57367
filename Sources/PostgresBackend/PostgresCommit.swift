import NIOCore
import PostgresNIO
import Recording

/// Everything one commit writes, as **one** statement: new session rows (with their end when the
/// session also ended in the batch), changes to sessions stored earlier (TLS facts, ends), the
/// verb and reply-code sets, and the messages with the notification followers wait for. Alone it
/// is its own transaction, whose commit only `PostgresLink.confirmCommitted()` confirms (its rows
/// come back before PostgreSQL commits). A new session's id is
/// drawn by the statement itself; until then rows name it by a negative reference, and the
/// statement returns the ids it drew (`Prepared.Row`).
///
/// The arrays cannot carry NULLs from here, so absent values travel as flags, `''`, `0` (ids start
/// at 1) or `-1` (reply codes are never negative).
struct PostgresCommit {
    private var sessions = NewSessionColumns()
    private var updates = SessionUpdateColumns()
    private var messages = MessageColumns()
    private var verbs: (names: [String], sessionIDs: [Int64]) = ([], [])
    private var codes: (codes: [Int], sessionIDs: [Int64]) = ([], [])

    /// Returns how the other rows of this commit name the new session (its id is not known yet).
    mutating func insertSession(_ info: SessionInfo, tls: TLSDetails?, end: SessionEnd?, endReason: String?,
                                origin: String?, faults: [FaultRecord]? = nil) -> Int64 {
        sessions.append(info, tls: tls, end: end, endReason: endReason, origin: origin, faults: faults)
        return -Int64(sessions.count)
    }

    /// A session stored by an earlier commit: its latest TLS facts, faults and/or its end.
    mutating func updateSession(id: Int64, tls: TLSDetails?, end: SessionEnd?, faults: [FaultRecord]? = nil) {
        updates.append(id: id, tls: tls, end: end, faults: faults)
    }

    /// `sessionID`: a stored id, or the reference `insertSession` returned.
    mutating func insertMessage(_ message: RecordedMessage, sessionID: Int64) {
        messages.append(message, sessionID: sessionID)
    }

    /// `verb` (upper case) occurs in the session; noting a pair twice is harmless.
    mutating func noteVerb(_ verb: String, sessionID: Int64) {
        verbs.names.append(verb)
        verbs.sessionIDs.append(sessionID)
    }

    mutating func noteReplyCode(_ code: Int, sessionID: Int64) {
        codes.codes.append(code)
        codes.sessionIDs.append(sessionID)
    }

    /// Sub-statements share one snapshot, so no two of them touch the same row: sessions new in
    /// this commit get everything in their INSERT, only older ones are updated. The foreign keys of
    /// the verb and code sets are checked at the end of the statement, after the session rows.
    /// Followers on `channel` hear the transaction and its range of message ids when (and only if)
    /// it commits: `XID:FIRST-LAST` (another recorder's rows may sit inside the range; the
    /// transaction id, which is each row's `xmin`, tells them apart).
    private func statement(notifying channel: String) -> PostgresQuery {
        var sql = PostgresSQL()
        sql.append("""
            WITH new_ids AS (SELECT -n AS ref, nextval(pg_get_serial_sequence('sessions', 'id')) AS id
                             FROM generate_series(1, \(sql.bind(sessions.count))) AS n),
            new_sessions AS (\(sessions.insert(&sql))),
            updated_sessions AS (\(updates.update(&sql))),
            verbs AS (INSERT INTO session_verbs (verb, session_id)
                      SELECT v.verb, coalesce(i.id, v.session_id)
                      FROM unnest(\(sql.bind(verbs.names))::text[], \(sql.bind(verbs.sessionIDs))::bigint[]) AS v(verb, session_id)
                      LEFT JOIN new_ids i ON i.ref = v.session_id
                      ON CONFLICT DO NOTHING),
            codes AS (INSERT INTO session_reply_codes (reply_code, session_id)
                      SELECT c.code, coalesce(i.id, c.session_id)
                      FROM unnest(\(sql.bind(codes.codes))::integer[], \(sql.bind(codes.sessionIDs))::bigint[]) AS c(code, session_id)
                      LEFT JOIN new_ids i ON i.ref = c.session_id
                      ON CONFLICT DO NOTHING),
            inserted AS (\(messages.insert(&sql)))
            SELECT (SELECT coalesce(array_agg(id ORDER BY ref DESC), '{}') FROM new_ids),
                   (SELECT pg_notify(\(sql.bind(channel)), (txid_current() % 4294967296) || ':' || min(id) || '-' || max(id))
                    FROM inserted HAVING count(*) > 0)
            """)
        return sql.query
    }

    /// The statement, prepared once per connection: its text never changes (only the arrays do),
    /// so PostgreSQL parses and plans it once instead of on every commit.
    var prepared: Prepared { Prepared(bindings: statement(notifying: PostgresFollowCursor.channel).binds) }

    struct Prepared: PostgresPreparedStatement {
        static let name = "wirelog_commit"
        static let sql = PostgresCommit().statement(notifying: PostgresFollowCursor.channel).sql
        /// The ids the statement drew for the new sessions, in the order they were added.
        typealias Row = [Int64]

        let bindings: PostgresBindings

        func makeBindings() -> PostgresBindings { bindings }
        func decodeRow(_ row: PostgresRow) throws -> [Int64] { try row.makeRandomAccess()[0].decode([Int64].self) }
    }
}

private struct NewSessionColumns {
    private var kinds: [String] = []
    private var decodings: [String] = []
    private var recorders: [String] = []
    private var clientHosts: [String] = []
    private var clientPorts: [Int] = []
    private var serverHosts: [String] = []
    private var serverPorts: [Int] = []
    private var startedMicros: [Int64] = []
    private var replayOf: [Int64] = []
    private var tls: [String] = []
    private var serverNames: [String] = []
    private var origins: [String] = []
    private var faults: [String] = []
    private var ends = EndColumns()

    var count: Int { kinds.count }

    mutating func append(_ info: SessionInfo, tls details: TLSDetails?, end: SessionEnd?, endReason: String?, origin: String?,
                         faults list: [FaultRecord]?) {
        kinds.append(info.kind.rawValue)
        decodings.append(info.decoding.rawValue)
        recorders.append(info.recorder)
        clientHosts.append(info.clientHost)
        clientPorts.append(info.clientPort)
        serverHosts.append(info.serverHost)
        serverPorts.append(info.serverPort)
        startedMicros.append(info.startedMicros)
        replayOf.append(info.replayOf ?? 0)
        tls.append(details?.jsonText ?? "")
        serverNames.append(details?.serverName ?? "")
        origins.append(origin ?? "")
        faults.append(list.map(\.jsonText) ?? "")
        ends.append(end, reason: endReason)
    }

    func insert(_ sql: inout PostgresSQL) -> String {
        """
        INSERT INTO sessions (id, kind, decoding, recorder, client_host, client_port, server_host, server_port,
                              started_us, replay_of, tls, sni, origin, faults, ended_us, end_reason, bytes_from_client,
                              bytes_from_server, message_count)
        OVERRIDING SYSTEM VALUE
        SELECT i.id, kind, decoding, recorder, client_host, client_port, server_host, server_port, started_us,
               NULLIF(replay_of, 0), NULLIF(tls, '')::jsonb, NULLIF(sni, ''), NULLIF(origin, ''), NULLIF(faults, '')::jsonb,
               CASE WHEN has_end THEN ended_us END, NULLIF(end_reason, ''), from_client, from_server, messages
        FROM unnest(\(sql.bind(kinds))::text[], \(sql.bind(decodings))::text[],
                    \(sql.bind(recorders))::text[], \(sql.bind(clientHosts))::text[], \(sql.bind(clientPorts))::integer[],
                    \(sql.bind(serverHosts))::text[], \(sql.bind(serverPorts))::integer[],
                    \(sql.bind(startedMicros))::bigint[], \(sql.bind(replayOf))::bigint[], \(sql.bind(tls))::text[],
                    \(sql.bind(serverNames))::text[], \(sql.bind(origins))::text[], \(sql.bind(faults))::text[],
                    \(ends.arrays(&sql)))
             WITH ORDINALITY
             AS s(kind, decoding, recorder, client_host, client_port, server_host, server_port, started_us,
                  replay_of, tls, sni, origin, faults, \(EndColumns.names), n)
        JOIN new_ids i ON i.ref = -s.n
        """
    }
}

private struct SessionUpdateColumns {
    private var ids: [Int64] = []
    private var hasTLS: [Bool] = []
    private var tls: [String] = []
    private var serverNames: [String] = []
    private var faults: [String] = []
    private var ends = EndColumns()

    mutating func append(id: Int64, tls details: TLSDetails?, end: SessionEnd?, faults list: [FaultRecord]?) {
        ids.append(id)
        faults.append(list.map(\.jsonText) ?? "")
        hasTLS.append(details != nil)
        tls.append(details?.jsonText ?? "")
        serverNames.append(details?.serverName ?? "")
        ends.append(end, reason: end?.reason.rawValue)
    }

    func update(_ sql: inout PostgresSQL) -> String {
        """
        UPDATE sessions s
        SET tls = CASE WHEN u.has_tls THEN u.tls::jsonb ELSE s.tls END,
            sni = CASE WHEN u.has_tls THEN NULLIF(u.sni, '') ELSE s.sni END,
            faults = COALESCE(NULLIF(u.faults, '')::jsonb, s.faults),
            ended_us = CASE WHEN u.has_end THEN u.ended_us ELSE s.ended_us END,
            end_reason = CASE WHEN u.has_end THEN u.end_reason ELSE s.end_reason END,
            bytes_from_client = CASE WHEN u.has_end THEN u.from_client ELSE s.bytes_from_client END,
            bytes_from_server = CASE WHEN u.has_end THEN u.from_server ELSE s.bytes_from_server END,
            message_count = CASE WHEN u.has_end THEN u.messages ELSE s.message_count END
        FROM unnest(\(sql.bind(ids))::bigint[], \(sql.bind(hasTLS))::boolean[], \(sql.bind(tls))::text[],
                    \(sql.bind(serverNames))::text[], \(sql.bind(faults))::text[], \(ends.arrays(&sql)))
             AS u(id, has_tls, tls, sni, faults, \(EndColumns.names))
        WHERE s.id = u.id
        """
    }
}

/// Sessions' ends as column arrays (`has_end` false: not ended), the same in the INSERT of new
/// sessions and the UPDATE of older ones.
private struct EndColumns {
    static let names = "has_end, ended_us, end_reason, from_client, from_server, messages"

    private var hasEnd: [Bool] = []
    private var endedMicros: [Int64] = []
    private var endReasons: [String] = []
    private var bytesFromClient: [Int64] = []
    private var bytesFromServer: [Int64] = []
    private var messageCounts: [Int64] = []

    /// `reason` as stored (a copied session may carry one this binary does not know).
    mutating func append(_ end: SessionEnd?, reason: String?) {
        hasEnd.append(end != nil)
        endedMicros.append(end?.atMicros ?? 0)
        endReasons.append(reason ?? "")
        bytesFromClient.append(end?.bytesFromClient ?? 0)
        bytesFromServer.append(end?.bytesFromServer ?? 0)
        messageCounts.append(end?.messageCount ?? 0)
    }

    /// The arrays' placeholders, in the order of `names`.
    func arrays(_ sql: inout PostgresSQL) -> String {
        "\(sql.bind(hasEnd))::boolean[], \(sql.bind(endedMicros))::bigint[], \(sql.bind(endReasons))::text[], "
            + "\(sql.bind(bytesFromClient))::bigint[], \(sql.bind(bytesFromServer))::bigint[], \(sql.bind(messageCounts))::bigint[]"
    }
}

/// A commit's messages as column arrays: in batch order (WITH ORDINALITY … ORDER BY), so ids
/// follow wire order within each session.
private struct MessageColumns {
    private var sessionIDs: [Int64] = []
    private var seqs: [Int64] = []
    private var times: [Int64] = []
    private var senders: [String] = []
    private var raws: [ByteBuffer] = []
    private var verbs: [String] = []
    private var hasVerb: [Bool] = []
    private var payloads: [ByteBuffer] = []
    private var hasPayload: [Bool] = []
    private var replyCodes: [Int] = []
    private var answeredBy: [Int64] = []
    /// `RedactedSpan` lists as stored, '' for none.
    private var redactions: [String] = []
    /// Decoded fields as stored and decode errors, '' for none; exchange request seqs, 0 for none.
    private var fields: [String] = []
    private var decodeErrors: [String] = []
    private var exchangeSeqs: [Int64] = []
    private var durations: [Int64] = []

    mutating func append(_ message: RecordedMessage, sessionID: Int64) {
        sessionIDs.append(sessionID)
        seqs.append(message.seq)
        times.append(message.atMicros)
        senders.append(message.sender.rawValue)
        raws.append(ByteBuffer(bytes: message.raw))
        verbs.append(message.verb ?? "")
        hasVerb.append(message.verb != nil)
        payloads.append(message.payloadRange.map { ByteBuffer(bytes: message.raw[$0]) } ?? ByteBuffer())
        hasPayload.append(message.payloadRange != nil)
        replyCodes.append(message.replyCode ?? -1)
        answeredBy.append(message.answeredBy ?? 0)
        redactions.append(message.redactions.storedText ?? "")
        fields.append(message.fields.jsonText ?? "")
        decodeErrors.append(message.decodeError ?? "")
        exchangeSeqs.append(message.exchange?.requestSeq ?? 0)
        durations.append(message.exchange?.durationMicros ?? 0)
    }

    func insert(_ sql: inout PostgresSQL) -> String {
        """
        INSERT INTO messages (session_id, seq, at_us, sender, raw, verb, payload, reply_code, answered_by, redactions,
                              fields, decode_error, exchange_seq, duration_us)
        SELECT coalesce(i.id, m.session_id), seq, at_us, sender, raw, CASE WHEN has_verb THEN verb END,
               CASE WHEN has_payload THEN payload END, NULLIF(reply_code, -1), NULLIF(answered_by, 0),
               NULLIF(redactions, ''), NULLIF(fields, ''), NULLIF(decode_error, ''),
               CASE WHEN exchange_seq > 0 THEN exchange_seq END, CASE WHEN exchange_seq > 0 THEN duration_us END
        FROM unnest(\(sql.bind(sessionIDs))::bigint[], \(sql.bind(seqs))::bigint[], \(sql.bind(times))::bigint[],
                    \(sql.bind(senders))::text[], \(sql.bind(raws))::bytea[], \(sql.bind(verbs))::text[],
                    \(sql.bind(hasVerb))::boolean[], \(sql.bind(payloads))::bytea[], \(sql.bind(hasPayload))::boolean[],
                    \(sql.bind(replyCodes))::integer[], \(sql.bind(answeredBy))::bigint[],
                    \(sql.bind(redactions))::text[], \(sql.bind(fields))::text[], \(sql.bind(decodeErrors))::text[],
                    \(sql.bind(exchangeSeqs))::bigint[], \(sql.bind(durations))::bigint[])
             WITH ORDINALITY
             AS m(session_id, seq, at_us, sender, raw, verb, has_verb, payload, has_payload, reply_code, answered_by, redactions,
                  fields, decode_error, exchange_seq, duration_us, n)
        LEFT JOIN new_ids i ON i.ref = m.session_id
        ORDER BY m.n
        RETURNING id
        """
    }
}
