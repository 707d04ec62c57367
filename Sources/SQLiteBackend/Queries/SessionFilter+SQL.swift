import Recording

extension SessionFilter {
    /// Conditions on `sessions s`. Message filters become EXISTS probes of session_verbs / session_reply_codes
    /// unless `messageFilters` is false (callers that apply them to messages themselves).
    func conditions(messageFilters: Bool = true) -> SQLConditions {
        var conditions = SQLConditions()
        if let sinceMicros { conditions.add("s.started_us >= ?", .integer(sinceMicros)) }
        if let untilMicros { conditions.add("s.started_us < ?", .integer(untilMicros)) }
        if let clientHost {
            conditions.add("s.client_host = ?", .text(clientHost))
            if let clientPort { conditions.add("s.client_port = ?", .int(clientPort)) }
        }
        if let kind { conditions.add("s.kind = ?", .text(kind.rawValue)) }
        if let recorder { conditions.add("s.recorder = ?", .text(recorder)) }
        if let endReason {
            if endReason == SessionFilter.openReason {
                // end_reason IS NULL lets sessions_by_reason find them without a scan.
                conditions.add("s.end_reason IS NULL AND s.ended_us IS NULL")
            } else {
                conditions.add("s.end_reason = ?", .text(endReason))
            }
        }
        if tls { conditions.add("s.tls IS NOT NULL") }
        if let serverName { conditions.add("s.sni = ?", .text(serverName)) }
        if let decoding { conditions.add("s.decoding = ?", .text(decoding)) }
        if let range = replyCodeRange {
            conditions.add("EXISTS (SELECT 1 FROM session_reply_codes c WHERE c.reply_code BETWEEN ? AND ? AND c.session_id = s.id)",
                           .int(range.lowerBound), .int(range.upperBound))
        }
        // Decoded fields and exchange times are in the session's messages: each is a probe of them.
        for field in fields where FieldMatch.isValidName(field.name) {
            let value = "CAST(json_extract(m.fields, '$.\(field.name)') AS TEXT)"
            switch field.comparison {
            case .equals(let text):
                conditions.add(MessageLookup.anyMessage(ofSession: "s.id", where: "\(value) = ?"), .text(text))
            case .glob(let pattern):
                conditions.add(MessageLookup.anyMessage(ofSession: "s.id", where: "\(value) GLOB ?"), .text(pattern))
            }
        }
        if let slowerThanMicros {
            conditions.add(MessageLookup.anyMessage(ofSession: "s.id", where: "m.duration_us > ?"), .integer(slowerThanMicros))
        }
        if messageFilters {
            if let verb {
                conditions.add("EXISTS (SELECT 1 FROM session_verbs v WHERE v.verb = ? AND v.session_id = s.id)", .text(verb))
            }
            if let replyCode {
                conditions.add("EXISTS (SELECT 1 FROM session_reply_codes c WHERE c.reply_code = ? AND c.session_id = s.id)", .int(replyCode))
            }
        }
        return conditions
    }
}

/// A conjunction of SQL conditions and the values for their `?` placeholders, in order.
struct SQLConditions {
    private(set) var clauses: [String] = []
    private(set) var values: [SQLValue] = []

    mutating func add(_ clause: String, _ clauseValues: SQLValue...) {
        clauses.append(clause)
        values.append(contentsOf: clauseValues)
    }

    /// `WHERE a AND b`, or nothing.
    var whereClause: String { clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ") }
    /// ` AND a AND b`, to append to an existing WHERE.
    var andClause: String { clauses.isEmpty ? "" : " AND " + clauses.joined(separator: " AND ") }
}
