import Client
import Foundation
import Logging
import NIOCore
import NIOPosix
import Backends
import Recording
import Testing
import TestSupport

/// Writes a whole session straight into a store, as a proxy would have recorded it: for protocols
/// and timings a test wants exactly. Returns the id the store gave it.
func recordSession(into store: StoreLocation, kind: SessionKind = .proxy, decoding: Decoding = .raw,
                   startedMicros: Int64 = WallClock.nowMicros(), endReason: EndReason? = .clientClosed,
                   messages: [(Sender, String, atOffsetMicros: Int64)]) async throws -> Int64 {
    let info = SessionInfo(kind: kind, decoding: decoding, recorder: "test", clientHost: "127.0.0.1", clientPort: 40_000,
                           serverHost: "127.0.0.1", serverPort: 6379, startedMicros: startedMicros)
    let recorded = messages.enumerated().map { index, message in
        RecordedMessage(seq: Int64(index + 1), atMicros: startedMicros + message.atOffsetMicros, sender: message.0,
                        raw: Array(message.1.utf8))
    }
    let end = endReason.map { reason in
        SessionEnd(atMicros: startedMicros + (messages.last?.atOffsetMicros ?? 0) + 100, reason: reason,
                   bytesFromClient: Int64(recorded.filter { $0.sender == .client }.reduce(0) { $0 + $1.raw.count }),
                   bytesFromServer: Int64(recorded.filter { $0.sender == .server }.reduce(0) { $0 + $1.raw.count }),
                   messageCount: Int64(recorded.count))
    }
    let ids = try await store.withStore(.create) { try await $0.write([(CompleteSession(info: info, end: end, messages: recorded), nil)]) }
    return try #require(ids.first ?? nil)
}

/// Plays a lab conversation against `port` so the server records it; ends with QUIT unless told otherwise.
func labConversation(port: Int, commands: [String], quit: Bool = true) async throws {
    let connection = try await LabConnection.connect(host: "127.0.0.1", port: port)
    for command in commands + (quit ? ["QUIT\n"] : []) {
        try await connection.send(Array(command.utf8))
        _ = try #require(try await connection.readReply(timeout: .seconds(10)), "no reply to \(command)")
    }
    if quit {
        #expect(try await connection.readReply(timeout: .seconds(10)) == nil)
    } else {
        try await connection.finishSending()
        #expect(try await connection.readReply(timeout: .seconds(10)) == nil)
    }
    await connection.close()
}

/// What `wirelog replay --json` printed, parsed.
struct ReplayRun {
    let status: Int32
    let stderr: String
    let lines: [[String: Any]]

    var steps: [[String: Any]] { lines.filter { $0["type"] as? String == "step" } }
    var sessions: [[String: Any]] { lines.filter { $0["type"] as? String == "session" } }
    var summary: [String: Any] { lines.last { $0["type"] as? String == "summary" } ?? [:] }
    func int(_ key: String) -> Int? { summary[key] as? Int }

    func mismatchedSteps(session: Int64) -> [Int] {
        steps.filter { ($0["session"] as? Int).map(Int64.init) == session && $0["result"] as? String == "mismatch" }
            .compactMap { $0["step"] as? Int }
    }
}

/// Runs the built binary: `wirelog replay … --json --db store`.
func replay(_ arguments: [String], db store: StoreLocation, timeout: TimeInterval = 60) throws -> ReplayRun {
    let result = try WirelogProcess.run(["replay"] + arguments + ["--json", "--db", store.argument], timeout: timeout)
    let lines = result.stdoutText.split(separator: "\n").compactMap { line in
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }
    return ReplayRun(status: result.status, stderr: result.stderrText, lines: lines)
}

/// A tiny line server with scripted behaviour: a greeting, an answer per line (nil: stay
/// silent), and an optional close after some answers. For servers the lab server cannot imitate.
final class ScriptedServer: Sendable {
    let port: Int
    private let channel: Channel

    private init(port: Int, channel: Channel) {
        self.port = port
        self.channel = channel
    }

    static func start(greeting: String = "", closeAfterAnswers: Int? = nil,
                      answer: @escaping @Sendable (String) -> String?) async throws -> ScriptedServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ScriptedHandler(greeting: greeting, closeAfterAnswers: closeAfterAnswers, answer: answer))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return ScriptedServer(port: try #require(channel.localAddress?.port), channel: channel)
    }

    func stop() async {
        try? await channel.close()
    }
}

private final class ScriptedHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let greeting: String
    private let closeAfterAnswers: Int?
    private let answer: @Sendable (String) -> String?
    private var pending: [UInt8] = []
    private var answers = 0

    init(greeting: String, closeAfterAnswers: Int?, answer: @escaping @Sendable (String) -> String?) {
        self.greeting = greeting
        self.closeAfterAnswers = closeAfterAnswers
        self.answer = answer
    }

    func channelActive(context: ChannelHandlerContext) {
        if closeAfterAnswers == 0 {
            context.close(promise: nil)
            return
        }
        if !greeting.isEmpty {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: greeting)), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending += unwrapInboundIn(data).readableBytesView
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: pending[..<newline], as: UTF8.self)
            pending.removeSubrange(...newline)
            guard let reply = answer(line) else { continue }
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: reply)), promise: nil)
            answers += 1
            if let limit = closeAfterAnswers, answers >= limit {
                context.close(promise: nil)
                return
            }
        }
    }
}
