/// Counts and latencies over the sessions a filter selects.
public struct SessionStats: Sendable, Equatable {
    public struct Count: Sendable, Equatable {
        /// The verb, reply code or end reason; nil where the message had none (an empty line, raw data).
        public var key: String?
        public var count: Int64

        public init(key: String?, count: Int64) {
            self.key = key
            self.count = count
        }
    }

    public struct Client: Sendable, Equatable {
        public var host: String
        public var sessions: Int64
        public var messages: Int64
        public var bytes: Int64

        public init(host: String, sessions: Int64, messages: Int64, bytes: Int64) {
            self.host = host
            self.sessions = sessions
            self.messages = messages
            self.bytes = bytes
        }
    }

    /// Command→reply latency in microseconds.
    public struct Latency: Sendable, Equatable {
        public var count: Int
        public var p50: Int64
        public var p90: Int64
        public var p99: Int64
        public var max: Int64
    }

    /// Exchanges of one kind (`GET /users/{id}`, `SET`, `SELECT`) in sessions of one protocol.
    public struct ExchangeGroup: Sendable, Equatable {
        public var protocolName: String
        public var request: String
        public var count: Int
        /// HTTP 5xx, RESP error replies, PostgreSQL errors.
        public var errors: Int
        public var latency: Latency
    }

    public var sessions: Int64 = 0
    public var messages: Int64 = 0
    /// Most frequent first.
    public var exchanges: [ExchangeGroup] = []
    public var byVerb: [Count] = []
    public var byReplyCode: [Count] = []
    public var byEndReason: [Count] = []
    /// nil when no command got a reply.
    public var latency: Latency?
    public var busiestClients: [Client] = []

    public init() {}
}

/// Builds `SessionStats` from a backend's rows: the end reasons and busiest clients it counted,
/// then every message of the chosen sessions, each session's in wire order (sessions may
/// interleave). Latency pairs each client message with the next server message of its session.
public struct SessionStatsBuilder {
    private var stats = SessionStats()
    private var verbs: [String?: Int64] = [:]
    private var codes: [Int?: Int64] = [:]
    private var latencies: [Int64] = []
    /// Times of client messages not yet answered, per session.
    private var waiting: [Int64: [Int64]] = [:]
    /// The group of each request not yet answered, by session and seq.
    private var openRequests: [Int64: [Int64: String]] = [:]
    private var exchangeSamples: [ExchangeKey: (durations: [Int64], errors: Int)] = [:]
    private struct ExchangeKey: Hashable {
        var protocolName: String
        var request: String
    }

    public init(byEndReason: [SessionStats.Count], busiestClients: [SessionStats.Client]) {
        stats.byEndReason = byEndReason
        stats.sessions = byEndReason.reduce(0) { $0 + $1.count }
        stats.busiestClients = busiestClients
    }

    /// A message of a decoded session: also counts the exchange it opens or completes.
    public mutating func add(session: Int64, decoding: String, seq: Int64, sender: Sender, atMicros at: Int64, verb: String?,
                             replyCode: Int?, fields: [MessageField], exchange: ExchangeLink?) {
        add(session: session, sender: sender, atMicros: at, verb: verb, replyCode: replyCode)
        if sender == .client, !fields.isEmpty, let group = ExchangeGrouping.group(of: fields, verb: verb) {
            openRequests[session, default: [:]][seq] = group
        }
        guard let exchange, let group = openRequests[session]?.removeValue(forKey: exchange.requestSeq) else { return }
        let failed = (replyCode ?? 0) >= 500 || ExchangeGrouping.error(of: fields) != nil
        let key = ExchangeKey(protocolName: decoding, request: group)
        exchangeSamples[key, default: ([], 0)].durations.append(exchange.durationMicros)
        if failed { exchangeSamples[key, default: ([], 0)].errors += 1 }
    }

    public mutating func add(session: Int64, sender: Sender, atMicros at: Int64, verb: String?, replyCode: Int?) {
        stats.messages += 1
        switch sender {
        case .server:
            codes[replyCode, default: 0] += 1
            for sent in waiting[session] ?? [] { latencies.append(at - sent) }
            waiting[session] = nil
        case .client:
            verbs[verb, default: 0] += 1
            waiting[session, default: []].append(at)
        }
    }

    /// The sessions seen so far will not come again (a backend reading block by block says so at
    /// each new block), so their unanswered messages can be forgotten.
    public mutating func forgetWaiting() {
        waiting.removeAll(keepingCapacity: true)
        openRequests.removeAll(keepingCapacity: true)
    }

    public func build() -> SessionStats {
        var stats = stats
        stats.byVerb = verbs.map { SessionStats.Count(key: $0.key, count: $0.value) }.sorted(by: SessionStats.Count.descending)
        stats.byReplyCode = codes.map { SessionStats.Count(key: $0.key.map(String.init), count: $0.value) }
            .sorted(by: SessionStats.Count.descending)
        stats.latency = SessionStats.Latency(latencies)
        stats.exchanges = exchangeSamples.compactMap { key, samples in
            SessionStats.Latency(samples.durations).map {
                SessionStats.ExchangeGroup(protocolName: key.protocolName, request: key.request, count: samples.durations.count,
                                           errors: samples.errors, latency: $0)
            }
        }.sorted { ($0.count, $1.protocolName, $1.request) > ($1.count, $0.protocolName, $0.request) }
        return stats
    }
}

extension SessionStats.Count {
    /// Most frequent first; ties by key so output is stable.
    static func descending(_ a: Self, _ b: Self) -> Bool {
        a.count != b.count ? a.count > b.count : (a.key ?? "") < (b.key ?? "")
    }
}

extension SessionStats.Latency {
    /// Nearest-rank percentiles of `samples`; nil for no samples.
    public init?(_ samples: [Int64]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        func rank(_ percent: Int) -> Int64 {
            let index = (percent * sorted.count + 99) / 100 - 1
            return sorted[Swift.min(Swift.max(index, 0), sorted.count - 1)]
        }
        self.init(count: sorted.count, p50: rank(50), p90: rank(90), p99: rank(99), max: sorted[sorted.count - 1])
    }
}

/// What an exchange asked and answered, read from its messages' decoded fields (docs/PROTOCOLS.md):
/// the one reading that `stats` and the web viewer's exchanges table share.
public enum ExchangeGrouping {
    /// What a request asks: HTTP method and target, RESP command and key, PostgreSQL statement kind
    /// (its first keyword, else the verb) and text; nil for a message that asks none of these.
    public static func request(of request: [MessageField], verb: String?) -> (kind: String, target: String?)? {
        if let method = request[field: "method"]?.text { return (method, request[field: "target"]?.text) }
        if let command = request[field: "command"]?.text { return (command, request[field: "key"]?.text) }
        guard let statement = request[field: "statement"]?.text else { return nil }
        let keyword = statement.drop { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "(" }.prefix { $0.isLetter }
        return (keyword.isEmpty ? verb ?? "-" : keyword.uppercased(), statement)
    }

    /// What `stats` groups exchanges by: HTTP method and path template (the query dropped;
    /// numbers, UUIDs and long hex ids as `{id}`), RESP command, PostgreSQL statement kind, else the verb.
    public static func group(of fields: [MessageField], verb: String?) -> String? {
        guard let asked = request(of: fields, verb: verb) else { return verb }
        if fields[field: "method"] != nil, let target = asked.target { return asked.kind + " " + pathTemplate(target) }
        return asked.kind
    }

    /// What a response says of its outcome: HTTP status, RESP reply type, PostgreSQL command tag.
    public static func outcome(of response: [MessageField]) -> String? {
        response[field: "status"]?.integer.map(String.init) ?? response[field: "type"]?.text ?? response[field: "tag"]?.text
    }

    /// Why a response says its request failed: a PostgreSQL SQLSTATE (its `error` is the whole
    /// message), a RESP error word; nil when it did not (an HTTP error is its status).
    public static func error(of response: [MessageField]) -> String? {
        response[field: "sqlstate"]?.text ?? response[field: "error"]?.text
    }

    /// `/users/42/orders?x=1` → `/users/{id}/orders`.
    public static func pathTemplate(_ target: String) -> String {
        let path = target.prefix { $0 != "?" && $0 != "#" }
        return path.split(separator: "/", omittingEmptySubsequences: false).map { segment -> String in
            isIdentifier(segment) ? "{id}" : String(segment)
        }.joined(separator: "/")
    }

    private static func isIdentifier(_ segment: Substring) -> Bool {
        guard !segment.isEmpty else { return false }
        if segment.allSatisfy(\.isNumber) { return true }
        let hex = segment.filter { $0 != "-" }
        return segment.count >= 16 && hex.allSatisfy(\.isHexDigit) && hex.contains(where: \.isNumber)
    }
}
