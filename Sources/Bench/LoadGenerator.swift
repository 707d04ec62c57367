import Foundation
import Histogram
import LabProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Presentation
import Recording
import WirelogTLS

/// Runs a closed-loop or bulk load against one server and summarises what it saw.
public enum LoadGenerator {
    public static func run(_ configuration: BenchConfiguration) async throws -> BenchResult {
        precondition(configuration.connections > 0 && configuration.pipeline > 0 && configuration.threads > 0)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        let cpuBefore = processCPUSeconds()
        do {
            var result = try await run(configuration, on: group)
            result.generatorCPUSeconds = processCPUSeconds() - cpuBefore
            try await group.shutdownGracefully()
            return result
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func run(_ configuration: BenchConfiguration, on group: MultiThreadedEventLoopGroup) async throws -> BenchResult {
        let allocator = ByteBufferAllocator()
        let request = allocator.buffer(bytes: configuration.request)
        let pattern = configuration.bulkBytes.map { _ in BulkPattern(allocator: allocator) }
        let timeout = configuration.replyTimeoutMicroseconds * 1_000

        // Connect everything first, so that connection set-up is not measured.
        var connections: [(done: EventLoopFuture<ConnectionStats>, channel: EventLoopFuture<any Channel>, connectStart: UInt64)] = []
        var handshakes = ConnectionStats.makeHistogram()
        for index in 0..<configuration.connections {
            let loop = group.next()
            let done = loop.makePromise(of: ConnectionStats.self)
            let connectStart = uptimeNanos()
            let handshakeBox = NIOLockedValueBox<EventLoopFuture<TLSLeg>?>(nil)
            let channel = ClientBootstrap(group: loop)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let handshake = try configuration.tls?.addHandlers(to: channel.pipeline.syncOperations, host: configuration.host)
                        handshakeBox.withLockedValue { $0 = handshake }
                        if let pattern, let bulkBytes = configuration.bulkBytes {
                            try channel.pipeline.syncOperations.addHandler(BulkHandler(
                                pattern: pattern, total: bulkBytes, origin: index &* 7_919,
                                replyTimeoutNanos: timeout, done: done))
                        } else {
                            try channel.pipeline.syncOperations.addHandler(PingPongHandler(
                                request: request, expect: configuration.expect, pipeline: configuration.pipeline,
                                replyTimeoutNanos: timeout, done: done))
                        }
                    }
                }
                .connect(host: configuration.host, port: configuration.port)
                // With TLS the load starts once the handshake is done; its time is reported apart.
                .flatMap { channel in
                    handshakeBox.withLockedValue { $0 }.map { $0.map { _ in channel } } ?? channel.eventLoop.makeSucceededFuture(channel)
                }
            connections.append((done.futureResult, channel, connectStart))
        }
        var connectErrors: [Int: String] = [:]
        var channels: [any Channel] = []
        for (index, connection) in connections.enumerated() {
            do {
                channels.append(try await connection.channel.get())
                if configuration.tls != nil { _ = handshakes.record(min(uptimeNanos() - connection.connectStart, handshakes.highestTrackableValue)) }
            } catch let error as TLSHandshakeError {
                connectErrors[index] = "\(configuration.host):\(configuration.port): \(error)"
            } catch {
                connectErrors[index] = "cannot connect to \(configuration.host):\(configuration.port): \(NetworkErrorText.reason(error))"
            }
        }

        let start = uptimeNanos()
        let measureStart = start + UInt64(configuration.bulkBytes == nil ? configuration.warmupMicroseconds * 1_000 : 0)
        var end = UInt64.max
        var quotas = Array(repeating: Int.max, count: channels.count)
        switch configuration.stop {
        case .duration(let microseconds):
            end = measureStart + UInt64(microseconds * 1_000)
        case .requests(let total):
            quotas = quotas.indices.map { total / channels.count + ($0 < total % channels.count ? 1 : 0) }
        }
        for (channel, quota) in zip(channels, quotas) {
            channel.pipeline.fireUserInboundEventTriggered(BeginLoad(measureStart: measureStart, end: end, quota: quota))
        }

        var stats: [ConnectionStats] = []
        for (index, connection) in connections.enumerated() {
            var connectionStats = try await connection.done.get()
            if let message = connectErrors[index] { connectionStats.firstError = message }
            stats.append(connectionStats)
        }
        var result = summarise(stats, configuration: configuration, connected: channels.count,
                               measureStart: configuration.bulkBytes == nil ? measureStart : start, ended: uptimeNanos())
        if configuration.tls != nil, !channels.isEmpty { result.tlsHandshakeMicros = LatencySummary(handshakes) }
        return result
    }

    private static func summarise(_ stats: [ConnectionStats], configuration: BenchConfiguration,
                                  connected: Int, measureStart: UInt64, ended: UInt64) -> BenchResult {
        var latency = ConnectionStats.makeHistogram()
        for connection in stats { latency.add(connection.latencyNanos) }
        let lastProgress = stats.map(\.lastProgressAt).max() ?? 0
        // Until the last reply; a run that got none lasted until its connections gave up.
        let until = lastProgress > measureStart ? lastProgress : ended
        let seconds = until > measureStart ? Double(until - measureStart) / 1e9 : 0
        let requests = stats.reduce(0) { $0 + $1.measured }
        let verified = stats.reduce(0) { $0 + $1.verifiedBytes }
        return BenchResult(
            target: "\(configuration.host):\(configuration.port)",
            mode: configuration.bulkBytes == nil ? "ping-pong" : "bulk",
            connections: configuration.connections,
            pipeline: configuration.pipeline,
            threads: configuration.threads,
            connected: connected,
            seconds: seconds,
            requests: requests,
            requestsPerSecond: seconds > 0 ? Double(requests) / seconds : 0,
            latencyMicros: configuration.bulkBytes != nil || requests == 0 ? nil : LatencySummary(latency),
            badReplies: stats.reduce(0) { $0 + $1.badReplies },
            badReplySample: stats.lazy.compactMap(\.firstBadReply).first.map { Escaping.escape($0) },
            errors: stats.reduce(0) { $0 + $1.errors },
            warmupRequests: stats.reduce(0) { $0 + $1.warmup },
            bulkBytes: configuration.bulkBytes,
            bulkVerifiedBytes: configuration.bulkBytes == nil ? nil : verified,
            megabytesPerSecond: configuration.bulkBytes == nil ? nil : (seconds > 0 ? Double(verified) / seconds / 1e6 : 0),
            generatorCPUSeconds: 0,
            firstError: stats.lazy.compactMap(\.firstError).first)
    }
}

/// User plus system CPU time of this process so far.
private func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let seconds = { (time: timeval) in Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
