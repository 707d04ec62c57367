import Backends
import Foundation
import Logging
import Recording
import SQLiteBackend
import Testing
import TestSupport

/// Collects what the recorder reports for one session.
private final class Outcomes: @unchecked Sendable {
    private let condition = NSCondition()
    private var received: [CommitOutcome] = []

    func add(_ outcome: CommitOutcome) {
        condition.lock()
        received.append(outcome)
        condition.broadcast()
        condition.unlock()
    }

    /// Waits (bounded) until `predicate` holds for what arrived so far.
    func wait(timeout: TimeInterval = 10, until predicate: ([CommitOutcome]) -> Bool) -> [CommitOutcome] {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(received) && condition.wait(until: deadline) {}
        return received
    }
}

private let quietLogger: Logger = {
    var logger = Logger(label: "test.recorder")
    logger.logLevel = .critical
    return logger
}()

private func info(port: Int = 5000) -> SessionInfo {
    SessionInfo(kind: .server, decoding: .lab, clientHost: "127.0.0.1", clientPort: port,
                serverHost: "127.0.0.1", serverPort: 7070, startedMicros: WallClock.nowMicros())
}

private func committedSeq(_ outcomes: [CommitOutcome]) -> Int64 {
    outcomes.reduce(0) { highest, outcome in
        if case .committed(let seq) = outcome { return max(highest, seq) }
        return highest
    }
}

/// A sink as serve, proxy and replay open it (`StoreLocation.openRecorder`), on each backend.
private func openSink(_ store: StoreLocation) async throws -> any RecordingSink {
    try await store.openRecorder(RecorderSettings(), logger: quietLogger)
}

@Suite struct SinkTests {
    @Test(arguments: TestBackend.allCases)
    func recordsEveryMessageExactlyAndReportsCommits(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir)
        let recorder = try await openSink(store)
        let outcomes = Outcomes()
        let tape = SessionTape(sink: recorder, info: info(), onCommit: outcomes.add)
        let binary: [UInt8] = Array("DATA ".utf8) + (0...255).map(UInt8.init) + [0x0A]
        tape.countWireBytes(binary.count + 6, from: .client)
        tape.record(.client, binary, at: 10, verb: "DATA", payloadRange: 5..<261)
        tape.record(.client, Array("DATA \n".utf8), at: 20, verb: "DATA", payloadRange: 5..<5)
        tape.countWireBytes(9, from: .server)
        tape.record(.server, Array("300 DRCV\n".utf8), at: 30, replyCode: 300)
        tape.end(.quit, at: 40)
        #expect(committedSeq(outcomes.wait { committedSeq($0) >= 3 }) == 3)
        await recorder.shutdown()

        let sessions = try await RecordedRows.sessions(store)
        #expect(sessions.count == 1)
        #expect(sessions[0].endReason == "quit")
        #expect(sessions[0].bytesFromClient == 268)
        let messages = try await RecordedRows.messages(store)
        #expect(messages.map(\.seq) == [1, 2, 3])
        #expect(messages[0].raw == binary)
        #expect(messages[0].payload == (0...255).map(UInt8.init))
        // An empty payload is an empty BLOB, not NULL.
        #expect(messages[1].payload == [])
        #expect(messages[2].payload == nil)
        #expect(messages[2].replyCode == 300)
    }

    @Test(arguments: TestBackend.allCases)
    func manySessionsFromManyThreadsAreAllRecorded(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir)
        let recorder = try await openSink(store)
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<40 {
                group.addTask {
                    let tape = SessionTape(sink: recorder, info: info(port: client))
                    for seq in 1...50 { tape.record(.client, Array("HELO \(seq)\n".utf8), verb: "HELO") }
                    tape.end(.clientClosed)
                }
            }
        }
        await recorder.shutdown()
        let sessions = try await RecordedRows.sessions(store)
        #expect(sessions.count == 40)
        #expect(Set(sessions.map(\.clientPort)) == Set(0..<40))
        let messages = try await RecordedRows.messages(store)
        #expect(messages.count == 40 * 50)
        for session in sessions {
            #expect(messages.filter { $0.sessionID == session.id }.map(\.seq) == (1...50).map(Int64.init))
        }
    }

    /// SQLite only: a second connection holding the file's write lock. (PostgreSQL's failed
    /// batches come from a lost server: the fault tests restart it.)
    @Test func aLockedDatabaseFailsTheBatchAndRecoversWhenReleased() async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("locked.sqlite")
        var settings = RecorderSettings()
        settings.busyTimeoutMilliseconds = 50
        let recorder = try await StoreLocation.sqlite(path: path).openRecorder(settings, logger: quietLogger)
        let other = try Database(path: path, mode: .readWrite)
        try other.execute("BEGIN IMMEDIATE")

        func failures(_ outcomes: [CommitOutcome]) -> [String] {
            outcomes.compactMap { if case .failed(let reason) = $0 { reason } else { nil } }
        }
        let outcomes = Outcomes()
        // The session's start fails alone first, then the message: each batch reports once.
        let tape = SessionTape(sink: recorder, info: info(), onCommit: outcomes.add)
        #expect(failures(outcomes.wait { failures($0).count >= 1 }).count == 1)
        tape.record(.client, Array("HELO\n".utf8), at: 1, verb: "HELO")
        let reasons = failures(outcomes.wait { failures($0).count >= 2 })
        #expect(reasons.count == 2)
        #expect(reasons.allSatisfy { $0.contains("locked") || $0.contains("busy") }, "\(reasons)")

        try other.execute("ROLLBACK")
        tape.record(.client, Array("QUIT\n".utf8), at: 2, verb: "QUIT")
        #expect(committedSeq(outcomes.wait { committedSeq($0) >= 2 }) == 2)
        await recorder.shutdown()
        // The session row lost with the failed batch was inserted again; the failed message is absent.
        #expect(try await RecordedRows.sessions(path).count == 1)
        let seqs = try await RecordedRows.messages(path).map(\.seq)
        #expect(seqs == [2])
    }

    /// SQLite only: a file damaged under a running recorder. Every commit fails; the damage is
    /// reported once (serve and proxy then stop), not once per batch.
    @Test func aDamagedFileIsReportedOnceAndNothingIsAcknowledged() async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("damaged.sqlite")
        try await StoreLocation.sqlite(path: path).openStore(.create).close()
        // Every page but the first (the schema) becomes garbage.
        let file = try #require(FileHandle(forWritingAtPath: path))
        let size = try file.seekToEnd()
        try file.seek(toOffset: 4096)
        try file.write(contentsOf: Data(repeating: 0xFF, count: Int(size) - 4096))
        try file.close()

        let reports = Outcomes()
        // Opened as such (openForWriting would refuse the file), without reading the store's
        // redaction rules (a recorder reads them at open): as if the damage came later.
        let recorder = try SQLiteRecorder(database: try Database(path: path, mode: .readWrite), useStoreRules: false, logger: quietLogger,
                                      onDamage: { reports.add(.failed(reason: $0)) })
        let outcomes = Outcomes()
        let first = SessionTape(sink: recorder, info: info(port: 1), onCommit: outcomes.add)
        first.record(.client, Array("HELO\n".utf8), verb: "HELO")
        _ = outcomes.wait { $0.count >= 1 }
        let second = SessionTape(sink: recorder, info: info(port: 2), onCommit: outcomes.add)
        second.record(.client, Array("HELO\n".utf8), verb: "HELO")
        let all = outcomes.wait { $0.count >= 2 }
        await recorder.shutdown()
        #expect(all.count >= 2 && all.allSatisfy { if case .failed = $0 { true } else { false } }, "\(all)")
        let reported = reports.wait(timeout: 0) { _ in true }
        #expect(reported.count == 1)
        #expect(reported.first.map { "\($0)".contains("\(path) is damaged") } == true, "\(reported)")
    }
}
