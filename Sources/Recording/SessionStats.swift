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

    public var sessions: Int64 = 0
    public var messages: Int64 = 0
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

    public init(byEndReason: [SessionStats.Count], busiestClients: [SessionStats.Client]) {
        stats.byEndReason = byEndReason
        stats.sessions = byEndReason.reduce(0) { $0 + $1.count }
        stats.busiestClients = busiestClients
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
    }

    public func build() -> SessionStats {
        var stats = stats
        stats.byVerb = verbs.map { SessionStats.Count(key: $0.key, count: $0.value) }.sorted(by: SessionStats.Count.descending)
        stats.byReplyCode = codes.map { SessionStats.Count(key: $0.key.map(String.init), count: $0.value) }
            .sorted(by: SessionStats.Count.descending)
        stats.latency = SessionStats.Latency(latencies)
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
