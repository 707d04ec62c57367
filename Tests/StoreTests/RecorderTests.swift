import Foundation
import Logging
import Store
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

@Suite struct RecorderTests {
    @Test func recordsEveryMessageExactlyAndReportsCommits() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("rec.sqlite")
        let recorder = Recorder(database: try Store.openForWriting(path: path), logger: quietLogger)
        let outcomes = Outcomes()
        let session = RecordingSession(info: info(), onCommit: outcomes.add)
        recorder.begin(session)
        let binary: [UInt8] = Array("DATA ".utf8) + (0...255).map(UInt8.init) + [0x0A]
        recorder.append(session, RecordedMessage(seq: 1, atMicros: 10, sender: .client, raw: binary,
                                                 verb: "DATA", payloadRange: 5..<261))
        recorder.append(session, RecordedMessage(seq: 2, atMicros: 20, sender: .client, raw: Array("DATA \n".utf8),
                                                 verb: "DATA", payloadRange: 5..<5))
        recorder.append(session, RecordedMessage(seq: 3, atMicros: 30, sender: .server, raw: Array("300 DRCV\n".utf8), replyCode: 300))
        recorder.end(session, SessionEnd(atMicros: 40, reason: .quit, bytesFromClient: 268, bytesFromServer: 9, messageCount: 3))
        #expect(committedSeq(outcomes.wait { committedSeq($0) >= 3 }) == 3)
        recorder.shutdown()

        let sessions = try RecordedRows.sessions(path)
        #expect(sessions.count == 1)
        #expect(sessions[0].endReason == "quit")
        #expect(sessions[0].bytesFromClient == 268)
        let messages = try RecordedRows.messages(path)
        #expect(messages.map(\.seq) == [1, 2, 3])
        #expect(messages[0].raw == binary)
        #expect(messages[0].payload == (0...255).map(UInt8.init))
        // An empty payload is an empty BLOB, not NULL.
        #expect(messages[1].payload == [])
        #expect(messages[2].payload == nil)
        #expect(messages[2].replyCode == 300)
    }

    @Test func manySessionsFromManyThreadsAreAllRecorded() async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("many.sqlite")
        let recorder = Recorder(database: try Store.openForWriting(path: path), logger: quietLogger)
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<40 {
                group.addTask {
                    let session = RecordingSession(info: info(port: client))
                    for seq in 1...50 {
                        recorder.append(session, RecordedMessage(
                            seq: Int64(seq), atMicros: WallClock.nowMicros(), sender: .client, raw: Array("HELO \(seq)\n".utf8), verb: "HELO"))
                    }
                    recorder.end(session, SessionEnd(atMicros: WallClock.nowMicros(), reason: .clientClosed,
                                                     bytesFromClient: 0, bytesFromServer: 0, messageCount: 50))
                }
            }
        }
        recorder.shutdown()
        let sessions = try RecordedRows.sessions(path)
        #expect(sessions.count == 40)
        #expect(Set(sessions.map(\.clientPort)) == Set(0..<40))
        let messages = try RecordedRows.messages(path)
        #expect(messages.count == 40 * 50)
        for session in sessions {
            #expect(messages.filter { $0.sessionID == session.id }.map(\.seq) == (1...50).map(Int64.init))
        }
    }

    @Test func aLockedDatabaseFailsTheBatchAndRecoversWhenReleased() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("locked.sqlite")
        let recorder = Recorder(database: try Store.openForWriting(path: path, busyTimeoutMilliseconds: 50), logger: quietLogger)
        let other = try Database(path: path, mode: .readWrite)
        try other.execute("BEGIN IMMEDIATE")

        let outcomes = Outcomes()
        let session = RecordingSession(info: info(), onCommit: outcomes.add)
        recorder.append(session, RecordedMessage(seq: 1, atMicros: 1, sender: .client, raw: Array("HELO\n".utf8), verb: "HELO"))
        let failed = outcomes.wait { $0.contains { if case .failed = $0 { true } else { false } } }
        guard case .failed(let reason)? = failed.first else {
            Issue.record("expected a failed commit, got \(failed)")
            return
        }
        #expect(reason.contains("locked") || reason.contains("busy"))

        try other.execute("ROLLBACK")
        recorder.append(session, RecordedMessage(seq: 2, atMicros: 2, sender: .client, raw: Array("QUIT\n".utf8), verb: "QUIT"))
        #expect(committedSeq(outcomes.wait { committedSeq($0) >= 2 }) == 2)
        recorder.shutdown()
        // The session row lost with the failed batch was inserted again; the failed message is absent.
        #expect(try RecordedRows.sessions(path).count == 1)
        #expect(try RecordedRows.messages(path).map(\.seq) == [2])
    }
}
