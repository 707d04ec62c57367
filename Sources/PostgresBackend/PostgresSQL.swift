import PostgresNIO
import Recording

/// SQL text with `$n` placeholders and their values, built up piece by piece.
struct PostgresSQL {
    private(set) var text = ""
    private var bindings = PostgresBindings()

    init(_ text: String = "") { self.text = text }

    /// The placeholder for `value`, bound at the next position.
    mutating func bind<Value: PostgresEncodable & Sendable>(_ value: Value) -> String {
        try! bindings.append(value)
        return "$\(bindings.count)"
    }

    mutating func append(_ more: String) { text += more }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: text, binds: bindings) }
}

extension SessionFilter {
    /// Conditions on `sessions s`, ANDed (` AND …` each). Verb and code become probes of the
    /// per-session sets unless `messageFilters` is false (callers that test the messages themselves).
    func conditions(_ sql: inout PostgresSQL, messageFilters: Bool = true) -> String {
        var clauses: [String] = []
        if let sinceMicros { clauses.append("s.started_us >= \(sql.bind(sinceMicros))") }
        if let untilMicros { clauses.append("s.started_us < \(sql.bind(untilMicros))") }
        if let clientHost {
            clauses.append("s.client_host = \(sql.bind(clientHost))")
            if let clientPort { clauses.append("s.client_port = \(sql.bind(clientPort))") }
        }
        if let kind { clauses.append("s.kind = \(sql.bind(kind.rawValue))") }
        if let recorder { clauses.append("s.recorder = \(sql.bind(recorder))") }
        if let endReason {
            clauses.append(endReason == SessionFilter.openReason
                           ? "s.ended_us IS NULL" : "s.end_reason = \(sql.bind(endReason))")
        }
        if tls { clauses.append("s.tls IS NOT NULL") }
        if let serverName { clauses.append("s.sni = \(sql.bind(serverName))") }
        if let decoding { clauses.append("s.decoding = \(sql.bind(decoding))") }
        if let range = replyCodeRange {
            clauses.append("EXISTS (SELECT 1 FROM session_reply_codes c WHERE c.reply_code BETWEEN \(sql.bind(range.lowerBound)) AND \(sql.bind(range.upperBound)) AND c.session_id = s.id)")
        }
        // Decoded fields and exchange times are in the session's messages: each is a probe of them.
        for field in fields where FieldMatch.isValidName(field.name) {
            let value = "(m.fields::jsonb ->> \(sql.bind(field.name)))"
            switch field.comparison {
            case .equals(let text):
                clauses.append("EXISTS (SELECT 1 FROM messages m WHERE m.session_id = s.id AND \(value) = \(sql.bind(text)))")
            case .glob(let pattern):
                clauses.append("EXISTS (SELECT 1 FROM messages m WHERE m.session_id = s.id AND \(value) LIKE \(sql.bind(Self.like(glob: pattern))))")
            }
        }
        if let slowerThanMicros {
            clauses.append("EXISTS (SELECT 1 FROM messages m WHERE m.session_id = s.id AND m.duration_us > \(sql.bind(slowerThanMicros)))")
        }
        if messageFilters {
            if let verb {
                clauses.append("EXISTS (SELECT 1 FROM session_verbs v WHERE v.verb = upper(\(sql.bind(verb))) AND v.session_id = s.id)")
            }
            if let replyCode {
                clauses.append("EXISTS (SELECT 1 FROM session_reply_codes c WHERE c.reply_code = \(sql.bind(replyCode)) AND c.session_id = s.id)")
            }
        }
        return clauses.map { " AND " + $0 }.joined()
    }

    /// A glob (`*`, `?`, as the SQLite backend's GLOB takes it) as a LIKE pattern, backslash its
    /// escape. Character classes are compared literally here.
    static func like(glob: String) -> String {
        var pattern = ""
        for character in glob {
            switch character {
            case "*": pattern += "%"
            case "?": pattern += "_"
            case "%", "_", "\\": pattern += "\\" + String(character)
            default: pattern.append(character)
            }
        }
        return pattern
    }

    /// Verb and code as conditions on the messages `m` themselves.
    func messageConditions(_ sql: inout PostgresSQL) -> String {
        var clauses = ""
        if let verb { clauses += " AND upper(m.verb) = upper(\(sql.bind(verb)))" }
        if let replyCode { clauses += " AND m.reply_code = \(sql.bind(replyCode))" }
        return clauses
    }
}

extension SessionSummary {
    /// Over `sessions s`: for an open session the counts come from its messages so far.
    static let postgresColumns = selecting(counters: """
        CASE WHEN s.ended_us IS NULL
             THEN (SELECT coalesce(sum(length(raw)), 0) FROM messages m WHERE m.session_id = s.id AND m.sender = 'client')
             ELSE s.bytes_from_client END,
        CASE WHEN s.ended_us IS NULL
             THEN (SELECT coalesce(sum(length(raw)), 0) FROM messages m WHERE m.session_id = s.id AND m.sender = 'server')
             ELSE s.bytes_from_server END,
        CASE WHEN s.ended_us IS NULL
             THEN (SELECT count(*) FROM messages m WHERE m.session_id = s.id)
             ELSE s.message_count END
        """)
    /// The columns as the row holds them: an open session's counters are zero.
    static let postgresRowColumns = selecting(counters: "s.bytes_from_client, s.bytes_from_server, s.message_count")

    private static func selecting(counters: String) -> String {
        """
        s.id, s.kind, s.decoding, s.recorder, s.client_host, s.client_port, s.server_host, s.server_port, s.started_us,
        s.ended_us, s.end_reason, \(counters), s.replay_of, s.tls::text, s.faults::text
        """
    }
    static let postgresColumnCount = 17

    init(_ row: PostgresRandomAccessRow, from first: Int = 0) throws {
        self.init(
            id: try row[first].decode(Int64.self), kind: try row[first + 1].decode(String.self),
            decoding: try row[first + 2].decode(String.self), recorder: try row[first + 3].decode(String.self),
            clientHost: try row[first + 4].decode(String.self), clientPort: try row[first + 5].decode(Int.self),
            serverHost: try row[first + 6].decode(String.self), serverPort: try row[first + 7].decode(Int.self),
            startedMicros: try row[first + 8].decode(Int64.self), endedMicros: try row[first + 9].decode(Int64?.self),
            endReason: try row[first + 10].decode(String?.self),
            bytesFromClient: try row[first + 11].decode(Int64.self), bytesFromServer: try row[first + 12].decode(Int64.self),
            messageCount: try row[first + 13].decode(Int64.self), replayOf: try row[first + 14].decode(Int64?.self),
            tls: try row[first + 15].decode(String?.self).flatMap(TLSDetails.init(jsonText:)),
            faults: [FaultRecord](jsonText: try row[first + 16].decode(String?.self)))
    }
}

/// What a query of messages reads of each row: whole messages, or their facts.
protocol PostgresMessageRow: Sendable {
    /// Over `messages m`.
    static var postgresColumns: String { get }
    var id: Int64 { get }
    init(_ row: PostgresRandomAccessRow, from first: Int) throws
}

extension MessageFacts: PostgresMessageRow {
    static let postgresColumns = "m.id, m.session_id, m.seq, m.sender, length(m.raw), m.verb, m.reply_code, m.fields, m.duration_us"

    init(_ row: PostgresRandomAccessRow, from first: Int = 0) throws {
        self.init(
            id: try row[first].decode(Int64.self), sessionID: try row[first + 1].decode(Int64.self),
            seq: try row[first + 2].decode(Int64.self),
            sender: try row[first + 3].decode(String.self) == Sender.server.rawValue ? .server : .client,
            byteCount: Int64(try row[first + 4].decode(Int32.self)), verb: try row[first + 5].decode(String?.self),
            replyCode: try row[first + 6].decode(Int?.self),
            fields: [MessageField](jsonText: try row[first + 7].decode(String?.self)),
            exchangeMicros: try row[first + 8].decode(Int64?.self))
    }
}

extension StoredMessage: PostgresMessageRow {
    static let postgresColumns = """
        m.id, m.session_id, m.seq, m.at_us, m.sender, m.raw, m.verb, m.payload, m.reply_code, m.answered_by, m.redactions,
        m.fields, m.decode_error, m.exchange_seq, m.duration_us
        """

    init(_ row: PostgresRandomAccessRow, from first: Int = 0) throws {
        self.init(
            id: try row[first].decode(Int64.self), sessionID: try row[first + 1].decode(Int64.self),
            seq: try row[first + 2].decode(Int64.self), atMicros: try row[first + 3].decode(Int64.self),
            sender: try row[first + 4].decode(String.self) == Sender.server.rawValue ? .server : .client,
            raw: Array(buffer: try row[first + 5].decode(ByteBuffer.self)), verb: try row[first + 6].decode(String?.self),
            payload: try row[first + 7].decode(ByteBuffer?.self).map { Array(buffer: $0) },
            replyCode: try row[first + 8].decode(Int?.self), answeredBy: try row[first + 9].decode(Int64?.self),
            redactions: [RedactedSpan](storedText: try row[first + 10].decode(String?.self)),
            fields: [MessageField](jsonText: try row[first + 11].decode(String?.self)),
            decodeError: try row[first + 12].decode(String?.self),
            exchange: try row[first + 13].decode(Int64?.self).map {
                ExchangeLink(requestSeq: $0, durationMicros: try row[first + 14].decode(Int64?.self) ?? 0)
            })
    }
}
