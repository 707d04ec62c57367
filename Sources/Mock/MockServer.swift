import LabProtocol
import Listening
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Presentation
import Recording

/// The mock server: answers every connection from a `MockScript` with a `MockConversation`,
/// refuses connections over the limit, and shuts down gracefully like serve and proxy.
public final class MockServer: Sendable {
    public let configuration: MockConfiguration
    private let sink: (any RecordingSink)?
    private let logger: Logger
    private let server: ListeningServer
    /// How requests are matched, for the start-up log line.
    public let matchingDescription: String

    /// With no `sink` the mock records nothing.
    public init(configuration: MockConfiguration, script: MockScript, sink: (any RecordingSink)?, logger: Logger) {
        self.configuration = configuration
        self.sink = sink
        self.logger = logger
        let connectionNumbers = NIOLockedValueBox(0)
        let fieldMatching = Self.fieldMatching(configuration, script)
        matchingDescription = Self.describe(fieldMatching, script)
        self.server = ListeningServer(
            configuration: ListeningConfiguration(
                name: "mock",
                host: configuration.listenHost, port: configuration.listenPort, maxConnections: configuration.maxConnections,
                eventLoopThreads: configuration.eventLoopThreads),
            logger: logger,
            admit: { channel in
                let number = connectionNumbers.withLockedValue { number in
                    defer { number += 1 }
                    return number
                }
                let conversation = MockConversation(
                    configuration: configuration, script: script, fieldMatching: fieldMatching, connectionNumber: number,
                    sink: sink, logger: logger)
                try channel.pipeline.syncOperations.addHandler(
                    MockConversation.handler(conversation, configuration: configuration, sink: sink, logger: logger))
                let loopBound = NIOLoopBound(conversation, eventLoop: channel.eventLoop)
                let tracked = TrackedConnection.channel(channel)
                // Once a miss went upstream, the connection is the proxy's glue's: it ends with the
                // capture session (which may outlive the client's channel) and is cut as the proxy's are.
                return TrackedConnection(
                    ended: channel.closeFuture.flatMap {
                        loopBound.value.proxied?.endedFuture.map { _ in } ?? channel.eventLoop.makeSucceededVoidFuture()
                    },
                    quiesce: tracked.quiesce,
                    abort: {
                        channel.eventLoop.execute {
                            if let proxied = loopBound.value.proxied { proxied.abort(.shutdown) } else { tracked.abort() }
                        }
                    })
            },
            refuse: { channel in Self.refuse(channel, configuration: configuration, script: script, sink: sink, logger: logger) })
    }

    /// HTTP, RESP and PostgreSQL recordings answer by what a request asks, pooled across
    /// connections, unless `--match bytes`, `--order strict` or a `--framing` other than `recorded` asks for bytes.
    static func fieldMatching(_ configuration: MockConfiguration, _ script: MockScript) -> FieldMatching? {
        guard configuration.matchBy == .fields, configuration.order == .any, configuration.framing == .recorded else { return nil }
        return FieldScript(script, rules: configuration.rules).map(FieldMatching.init)
    }

    private static func describe(_ fieldMatching: FieldMatching?, _ script: MockScript) -> String {
        guard let matching = fieldMatching else {
            return "\(counted(script.turns.count, "request")), \(counted(script.distinctRequests.count, "distinct one")), matched by bytes"
        }
        return "\(counted(script.turns.count, "request")), \(counted(matching.script.entries.count, "distinct one")), matched by \(matching.script.protocolName) fields"
    }

    /// Binds and starts accepting; returns the address actually bound (port 0 picks one).
    public func start() async throws -> SocketAddress {
        try await server.start { "wirelog mock listening on \($0.displayString)" }
    }

    public var connectionCount: Int { server.connectionCount }

    /// Stops accepting, lets every connection answer what it received, waits up to `grace`,
    /// closes the rest, commits the sink's last records and stops the event loops.
    public func shutdownGracefully(grace: TimeAmount = .seconds(10)) async {
        await server.shutdownGracefully(grace: grace) { await sink?.shutdown() }
    }

    /// Over the connection limit: a lab recording's client gets serve's `503 BUSY` line, any
    /// other protocol a close (nothing fits every protocol); the refusal is recorded.
    private static func refuse(_ channel: Channel, configuration: MockConfiguration, script: MockScript,
                               sink: (any RecordingSink)?, logger: Logger) {
        logger.warning("refusing a connection: \(configuration.maxConnections) connections already open (--max-connections)")
        let refusal = script.decoding == .lab ? LabReply.busy(limit: configuration.maxConnections).encoded(lineEnding: .lf) : []
        if let sink {
            let now = WallClock.nowMicros()
            let tape = SessionTape(sink: sink, info: .mocked(channel: channel, configuration, script: script, startedMicros: now))
            if !refusal.isEmpty {
                tape.countWireBytes(refusal.count, from: .server)
                tape.record(.server, refusal, at: now, replyCode: 503)
            }
            tape.end(.refused, at: now)
        }
        channel.writeAndFlush(channel.allocator.buffer(bytes: refusal)).whenComplete { _ in channel.close(promise: nil) }
    }
}

extension SessionInfo {
    static func mocked(channel: Channel, _ configuration: MockConfiguration, script: MockScript,
                       startedMicros: Int64 = WallClock.nowMicros()) -> SessionInfo {
        SessionInfo(
            kind: .mock, decoding: script.decoding, recorder: configuration.recorderName,
            clientHost: channel.remoteAddress?.ipAddress ?? "unknown", clientPort: channel.remoteAddress?.port ?? 0,
            serverHost: channel.localAddress?.ipAddress ?? "unknown", serverPort: channel.localAddress?.port ?? 0,
            startedMicros: startedMicros)
    }
}
