import Recording

/// The JSON shape of `SessionStats` (`sessions stats --json`, `/api/stats`).
public struct StatsJSON: Encodable {
    struct Count: Encodable { var key: String?; var count: Int64 }
    struct Latency: Encodable { var count: Int; var p50Us: Int64; var p90Us: Int64; var p99Us: Int64; var maxUs: Int64 }
    struct Client: Encodable { var host: String; var sessions: Int64; var messages: Int64; var bytes: Int64 }
    var sessions: Int64
    var messages: Int64
    var byVerb: [Count]
    var byReplyCode: [Count]
    var byEndReason: [Count]
    var latency: Latency?
    var busiestClients: [Client]

    public init(_ stats: SessionStats) {
        func counts(_ counts: [SessionStats.Count]) -> [Count] { counts.map { .init(key: $0.key, count: $0.count) } }
        sessions = stats.sessions
        messages = stats.messages
        byVerb = counts(stats.byVerb)
        byReplyCode = counts(stats.byReplyCode)
        byEndReason = counts(stats.byEndReason)
        latency = stats.latency.map { .init(count: $0.count, p50Us: $0.p50, p90Us: $0.p90, p99Us: $0.p99, maxUs: $0.max) }
        busiestClients = stats.busiestClients.map { .init(host: $0.host, sessions: $0.sessions, messages: $0.messages, bytes: $0.bytes) }
    }
}
