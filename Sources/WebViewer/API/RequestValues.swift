import Hummingbird
import Presentation
import Protocols
import Recording

/// What a request's path and query say, read with the CLI's words for bad values.
extension Request {
    /// A query parameter, percent-decoded (the page encodes with encodeURIComponent, so `+` is a plus).
    func query(_ name: String) -> String? {
        guard let value = uri.queryParameters[name[...]], !value.isEmpty else { return nil }
        return String(value)
    }

    /// The filters of `sessions list`, by the same names without `--` (`slower_than` for
    /// `--slower-than`; `field` repeats).
    func sessionFilter() throws -> SessionFilter {
        let sessions = SessionFilterArguments(
            since: query("since"), until: query("until"), client: query("client"), kind: query("kind"),
            recorder: query("recorder"), verb: query("verb"), code: query("code"), reason: query("reason"))
        let protocols = ProtocolFilterArguments(
            decoding: query("decoding"), method: query("method"), command: query("command"), status: query("status"),
            path: query("path"), sqlstate: query("sqlstate"), fields: uri.queryParameters.getAll("field").filter { !$0.isEmpty },
            slowerThan: query("slower_than"))
        return try protocols.narrowing(sessions.filter(), protocols: Array(WireProtocols.names.dropFirst()))
    }

    func positiveInt(_ name: String, default value: Int, maximum: Int) throws -> Int {
        guard let text = query(name) else { return value }
        guard let number = Int(text), number > 0 else { throw ViewerError.badRequest("\(name) must be a positive number, not '\(text)'") }
        return min(number, maximum)
    }

    /// A session or message id (`what`) in the query.
    func id(_ name: String, of what: String) throws -> Int64? {
        guard let text = query(name) else { return nil }
        guard let number = Int64(text), number >= 0 else { throw ViewerError.badRequest("\(name) must be a \(what) id, not '\(text)'") }
        return number
    }

    /// `before=STARTED_US:ID`, as a previous page's `next` gave it.
    var listPosition: SessionListPosition? {
        get throws {
            guard let text = query("before") else { return nil }
            let parts = text.split(separator: ":")
            guard parts.count == 2, let started = Int64(parts[0]), let id = Int64(parts[1]) else {
                throw ViewerError.badRequest("before must be the next value of a previous page, not '\(text)'")
            }
            return SessionListPosition(startedMicros: started, id: id)
        }
    }
}

extension SessionListPosition {
    var text: String { "\(startedMicros):\(id)" }
}

extension RequestContext {
    /// The `:id` of the path.
    func sessionID() throws -> Int64 { try pathID("id", of: "session") }

    /// The `:message` of the path.
    func messageID() throws -> Int64 { try pathID("message", of: "message") }

    private func pathID(_ name: String, of what: String) throws -> Int64 {
        let text = parameters.get(name) ?? ""
        guard let id = Int64(text) else { throw ViewerError.badRequest("'\(text)' is not a \(what) id") }
        return id
    }
}

extension Sender {
    /// `sender=client|server`, or nil for both.
    init?(query: String?) throws {
        guard let query else { return nil }
        guard let sender = Sender(rawValue: query) else { throw ViewerError.badRequest("sender must be client or server, not '\(query)'") }
        self = sender
    }
}
