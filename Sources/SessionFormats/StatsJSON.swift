import Recording

/// The JSON shape of `SessionStats` (`sessions stats --json`, `/api/stats`).
public struct StatsJSON: Encodable {
    struct Count: Encodable { var key: String?; var count: Int64 }
    struct Latency: Encodable { var count: Int; var p50Us: Int64; var p90Us: Int64; var p99Us: Int64; var maxUs: Int64 }
    struct Client: Encodable { var host: String; var sessions: Int64; var messages: Int64; var bytes: Int64 }
    struct ExchangeGroup: Encodable { var `protocol`: String; var request: String; var count: Int; var errors: Int; var latency: Latency }
    var sessions: Int64
    var messages: Int64
    var byVerb: [Count]
    var byReplyCode: [Count]
    var byEndReason: [Count]
    var latency: Latency?
    var busiestClients: [Client]
    var exchanges: [ExchangeGroup]

    public init(_ stats: SessionStats) {
        func counts(_ counts: [SessionStats.Count]) -> [Count] { counts.map { .init(key: $0.key, count: $0.count) } }
        sessions = stats.sessions
        messages = stats.messages
        byVerb = counts(stats.byVerb)
        byReplyCode = counts(stats.byReplyCode)
        byEndReason = counts(stats.byEndReason)
        func latency(_ latency: SessionStats.Latency) -> Latency {
            Latency(count: latency.count, p50Us: latency.p50, p90Us: latency.p90, p99Us: latency.p99, maxUs: latency.max)
        }
        self.latency = stats.latency.map(latency)
        exchanges = stats.exchanges.map {
            ExchangeGroup(protocol: $0.protocolName, request: $0.request, count: $0.count, errors: $0.errors, latency: latency($0.latency))
        }
        busiestClients = stats.busiestClients.map { .init(host: $0.host, sessions: $0.sessions, messages: $0.messages, bytes: $0.bytes) }
    }
}
