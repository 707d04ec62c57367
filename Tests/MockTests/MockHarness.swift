import Backends
import Foundation
import Logging
import Mock
import NIOCore
import Recording
import Replay
import TestSupport

/// An in-process `MockServer` on 127.0.0.1 and an ephemeral port, answering from (and recording
/// into) a real store.
struct MockHarness {
    let server: MockServer
    let port: Int
    let store: StoreLocation

    static func start(store: StoreLocation, ids: [Int64] = [], filter: SessionFilter = SessionFilter(), record: Bool = true,
                      configure: (inout MockConfiguration) throws -> Void = { _ in }) async throws -> MockHarness {
        var configuration = MockConfiguration()
        configuration.listenHost = "127.0.0.1"
        configuration.listenPort = 0
        configuration.eventLoopThreads = 2
        try configure(&configuration)
        var selection = SessionSelection()
        selection.ids = ids
        selection.filter = filter
        let order = configuration.order
        let script = try await store.withStore(.read) { try await MockScript.load(selection, from: $0, order: order) }
        var logger = Logger(label: "test.mock")
        logger.logLevel = .error
        let sink = record ? try await store.openRecorder(RecorderSettings(), logger: logger) : nil
        let server = MockServer(configuration: configuration, script: script, sink: sink, logger: logger)
        let address = try await server.start()
        return MockHarness(server: server, port: address.port!, store: store)
    }

    /// Graceful shutdown: every session ended and committed.
    func stop() async {
        await server.shutdownGracefully(grace: .seconds(5))
    }

    /// The sessions the mock recorded, oldest first, each with its messages.
    func mockSessions() async throws -> [(summary: SessionSummary, messages: [StoredMessage])] {
        try await store.withStore(.read) { store in
            var sessions: [(SessionSummary, [StoredMessage])] = []
            for summary in try await store.list(SessionFilter(kind: .mock), limit: 10_000).reversed() {
                sessions.append((summary, try await store.messages(ofSession: summary.id)))
            }
            return sessions
        }
    }
}

/// Recorded conversations written straight into a store (as `sessions copy` writes them): each
/// step is who spoke and what, a millisecond apart.
enum Recordings {
    static func write(_ conversations: [[(Sender, String)]], to store: StoreLocation, kind: SessionKind = .proxy,
                      decoding: Decoding = .raw, endReason: EndReason = .clientClosed) async throws -> [Int64] {
        let start = WallClock.nowMicros()
        let sessions = conversations.enumerated().map { index, steps in
            let started = start + Int64(index) * 1_000_000
            let messages = steps.enumerated().map { seq, step in
                RecordedMessage(seq: Int64(seq + 1), atMicros: started + Int64(seq + 1) * 1_000, sender: step.0, raw: Array(step.1.utf8))
            }
            let info = SessionInfo(kind: kind, decoding: decoding, recorder: "test", clientHost: "127.0.0.1", clientPort: 40_000 + index,
                                   serverHost: "127.0.0.1", serverPort: 6379, startedMicros: started)
            let end = SessionEnd(atMicros: started + Int64(steps.count + 1) * 1_000, reason: endReason,
                                 bytesFromClient: Int64(steps.filter { $0.0 == .client }.map(\.1.utf8.count).reduce(0, +)),
                                 bytesFromServer: Int64(steps.filter { $0.0 == .server }.map(\.1.utf8.count).reduce(0, +)),
                                 messageCount: Int64(steps.count))
            return (session: CompleteSession(info: info, end: end, messages: messages), origin: String?.none)
        }
        return try await store.withStore(.create) { try await $0.write(sessions) }.compactMap { $0 }
    }
}

extension TestSocket {
    /// Sends `text` and returns what one read brings (the reference client's way).
    func ask(_ text: String) throws -> String {
        try send(Array(text.utf8))
        return String(decoding: try receive() ?? [], as: UTF8.self)
    }
}
