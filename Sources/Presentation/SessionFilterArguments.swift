import Recording

/// The session filters as people type them (`sessions list --kind proxy`, `/api/sessions?kind=proxy`),
/// read into a `SessionFilter` with one set of messages for the CLI and the web viewer.
public struct SessionFilterArguments: Sendable, Equatable {
    public var since: String?
    public var until: String?
    /// `ADDR` or `ADDR:PORT` (`[v6]:PORT`).
    public var client: String?
    public var kind: String?
    public var recorder: String?
    public var verb: String?
    public var code: String?
    public var reason: String?

    public init(since: String? = nil, until: String? = nil, client: String? = nil, kind: String? = nil,
                recorder: String? = nil, verb: String? = nil, code: String? = nil, reason: String? = nil) {
        self.since = since
        self.until = until
        self.client = client
        self.kind = kind
        self.recorder = recorder
        self.verb = verb
        self.code = code
        self.reason = reason
    }

    /// The filter, with relative times (`15m`) taken from `nowMicros`.
    public func filter(nowMicros: Int64 = WallClock.nowMicros()) throws(InputError) -> SessionFilter {
        var filter = SessionFilter()
        if let since { filter.sinceMicros = try TimeArgument.parse(since, nowMicros: nowMicros) }
        if let until { filter.untilMicros = try TimeArgument.parse(until, nowMicros: nowMicros) }
        if let client {
            let (host, port) = try Self.parseClient(client)
            filter.clientHost = host
            filter.clientPort = port
        }
        if let kind {
            guard let parsed = SessionKind(rawValue: kind.lowercased()) else {
                throw InputError("unknown --kind '\(kind)': use server, proxy, replay or mock")
            }
            filter.kind = parsed
        }
        filter.recorder = recorder
        filter.verb = verb
        if let code {
            guard let parsed = Int(code) else { throw InputError("cannot read --code '\(code)': use a reply code such as 400") }
            filter.replyCode = parsed
        }
        if let reason {
            let known = EndReason.allCases.map(\.rawValue) + [SessionFilter.openReason]
            guard known.contains(reason) else {
                throw InputError("unknown --reason '\(reason)': use one of \(known.joined(separator: ", "))")
            }
            filter.endReason = reason
        }
        return filter
    }

    /// `127.0.0.1`, `127.0.0.1:5000`, `::1`, `[::1]:5000`.
    static func parseClient(_ text: String) throws(InputError) -> (String, Int?) {
        if let hostPort = HostPort(argument: text), text.contains(":"), !text.hasPrefix(":") {
            return (hostPort.host, hostPort.port)
        }
        let host = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
        guard !host.isEmpty, !host.contains(" ") else {
            throw InputError("cannot read --client '\(text)': use ADDR or ADDR:PORT ([v6]:PORT for IPv6)")
        }
        return (host, nil)
    }
}
