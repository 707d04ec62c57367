import Histogram
import Foundation
import Presentation

/// Latency percentiles in microseconds.
public struct LatencySummary: Codable, Sendable, Equatable {
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var p999: Double
    public var max: Double
    public var mean: Double
}

extension LatencySummary {
    /// From a histogram of nanoseconds.
    init(_ nanos: Histogram<UInt32>) {
        let micros = { (value: UInt64) in Double(value) / 1_000 }
        self.init(p50: micros(nanos.valueAtPercentile(50)), p90: micros(nanos.valueAtPercentile(90)),
                  p99: micros(nanos.valueAtPercentile(99)), p999: micros(nanos.valueAtPercentile(99.9)),
                  max: micros(nanos.max), mean: nanos.mean / 1_000)
    }
}

/// What a run measured. Ping-pong runs fill `requests`/`latency`; bulk runs fill the `bulk…` fields.
public struct BenchResult: Codable, Sendable {
    public var target: String
    public var mode: String
    public var connections: Int
    public var pipeline: Int
    public var threads: Int
    /// Connections that were established.
    public var connected: Int
    /// Length of the measured phase.
    public var seconds: Double
    /// Replies received to measured requests.
    public var requests: Int
    public var requestsPerSecond: Double
    public var latencyMicros: LatencySummary?
    /// Replies whose bytes differ from `--expect`.
    public var badReplies: Int
    /// The first bad reply (its first 200 bytes, escaped), to show what came instead.
    public var badReplySample: String?
    /// Failed connects, connections closed or reset by the server, reply timeouts.
    public var errors: Int
    /// Requests sent during warm-up (answered, not measured).
    public var warmupRequests: Int
    public var bulkBytes: Int?
    public var bulkVerifiedBytes: Int?
    public var megabytesPerSecond: Double?
    /// CPU time (user + system) the load generator used, to compare with the server's on a shared machine.
    public var generatorCPUSeconds: Double
    /// The first error, for people.
    public var firstError: String?
    /// With TLS: how long connecting and handshaking took per connection, before the load began.
    public var tlsHandshakeMicros: LatencySummary?

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // Encoding plain numbers and strings does not fail.
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Aligned `label  value` lines.
    public func text() -> String {
        var rows: [(String, String)] = [
            ("target", target),
            ("connections", "\(connected) of \(connections), pipeline \(pipeline), \(threads) thread\(threads == 1 ? "" : "s")"),
            ("duration", DurationText.seconds(seconds)),
        ]
        if let bulkBytes {
            rows.append(("bytes", "\(grouped(bulkVerifiedBytes ?? 0)) of \(grouped(bulkBytes * connections)) echoed and verified"))
            rows.append(("throughput", String(format: "%.1f MB/s", megabytesPerSecond ?? 0)))
        } else {
            rows.append(("requests", grouped(requests) + (warmupRequests > 0 ? " (+\(grouped(warmupRequests)) warm-up)" : "")))
            rows.append(("throughput", "\(grouped(Int(requestsPerSecond.rounded()))) req/s"))
            if let latency = latencyMicros {
                rows.append(("latency", [("p50", latency.p50), ("p90", latency.p90), ("p99", latency.p99),
                                         ("p99.9", latency.p999), ("max", latency.max)]
                    .map { "\($0.0) \(DurationText.fractionalMicros($0.1))" }.joined(separator: "  ")))
            }
            rows.append(("bad replies", grouped(badReplies) + (badReplySample.map { " (first: \($0))" } ?? "")))
        }
        if let handshake = tlsHandshakeMicros {
            rows.append(("TLS handshakes", [("p50", handshake.p50), ("p99", handshake.p99), ("max", handshake.max)]
                .map { "\($0.0) \(DurationText.fractionalMicros($0.1))" }.joined(separator: "  ") + " (connect included, not in the figures above)"))
        }
        rows.append(("generator CPU", DurationText.seconds(generatorCPUSeconds)))
        rows.append(("errors", grouped(errors) + (firstError.map { " (first: \($0))" } ?? "")))
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
            .joined(separator: "\n")
    }
}
