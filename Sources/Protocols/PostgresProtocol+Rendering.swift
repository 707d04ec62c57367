import Recording

/// PostgreSQL turns as psql users read them: `Query: SELECT 1` → `SELECT 1, 1 row` (the server
/// turn's protocol messages below), an error as its severity, SQLSTATE and message.
extension PostgresProtocol {
    public static func render(_ message: RenderInput) -> RenderedMessage? {
        let fields = message.fields
        if fields[field: "continuation"] != nil {
            return RenderedMessage(label: "…", summary: "(turn continued, \(message.raw.count) bytes)")
        }
        guard let messages = fields[field: "messages"]?.text else { return nil }
        var parts: [String] = []
        switch message.sender {
        case .client:
            if let statement = fields[field: "statement"]?.text {
                parts.append(statement)
            }
            if let user = fields[field: "user"]?.text {
                parts.append("user \(user)" + (fields[field: "database"]?.text.map { ", database \($0)" } ?? ""))
            }
            if let mechanism = fields[field: "mechanism"]?.text { parts.append("mechanism \(mechanism)") }
            if let parameters = fields[field: "parameters"]?.integer, parameters > 0 {
                parts.append(parameters == 1 ? "1 parameter" : "\(parameters) parameters")
            }
        case .server:
            if let tag = fields[field: "tag"]?.text { parts.append(tag) }
            if let rows = fields[field: "rows"]?.integer { parts.append(rows == 1 ? "1 row" : "\(rows) rows") }
            if let sqlstate = fields[field: "sqlstate"]?.text {
                let severity = fields[field: "severity"]?.text ?? "ERROR"
                parts.append("\(severity) \(sqlstate)" + (fields[field: "error"]?.text.map { ": \($0)" } ?? ""))
            }
            if fields[field: "tls"] == .bool(true) { parts.append("TLS follows") }
        }
        // The type names are long: the summary says them, the label column stays empty.
        guard !parts.isEmpty else { return RenderedMessage(label: "", summary: messages) }
        if message.sender == .client {
            return RenderedMessage(label: "", summary: messages + ": " + parts.joined(separator: ", "))
        }
        return RenderedMessage(label: "", summary: parts.joined(separator: ", "), details: [messages])
    }
}
