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
