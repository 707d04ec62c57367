import Foundation
import Replay
import Recording
import SQLiteBackend
import Testing

@Suite struct ReplayOutputTests {
    private func report() -> SessionReport {
        var report = SessionReport(sessionID: 4, info: SessionInfo(
            kind: .server, decoding: .lab, clientHost: "127.0.0.1", clientPort: 5000,
            serverHost: "127.0.0.1", serverPort: 7070, startedMicros: 0))
        report.steps = [
            StepResult(number: 1, kind: .send, outcome: .match, sent: Array("HELO\n".utf8), expected: Array("100 OK\n".utf8),
                       actual: Array("100 OK\n".utf8), difference: nil, reason: nil, latencyMicros: 250, recordedLatencyMicros: 1_500),
            StepResult(number: 2, kind: .send, outcome: .mismatch, sent: Array("DATA \u{1B}[2J\n".utf8), expected: Array("300 DRCV\n".utf8),
                       actual: Array("300 DRCV\r\n".utf8), difference: Difference(expectedOffset: 8, actualOffset: 8),
                       reason: nil, latencyMicros: nil, recordedLatencyMicros: 300),
            StepResult(number: 3, kind: .close, outcome: .skipped, sent: [], expected: [], actual: [], difference: nil,
                       reason: "not run: the server closed the connection", latencyMicros: nil, recordedLatencyMicros: nil),
        ]
        return report
    }

    @Test func peopleSeeEachStepWithEscapedBytesAndTheDifference() {
        let text = ReplayOutput.text(report())
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "session 4  server/lab  127.0.0.1:5000 → 127.0.0.1:7070  1 of 3 steps differ, 1 not run")
        #expect(lines[1].hasPrefix("     1  match     HELO\\n"))
        #expect(lines[1].hasSuffix("250µs (recorded 1.50ms)"))
        // Control bytes from the network never reach the terminal raw.
        #expect(lines[2].hasPrefix("     2  MISMATCH  DATA \\x1b[2J\\n"))
        #expect(!text.contains("\u{1B}"))
        #expect(lines[3] == "        expected  300 DRCV\\n")
        #expect(lines[4] == "        actual    300 DRCV\\r\\n")
        #expect(lines[5] == "        first difference at byte 8")
        #expect(lines[6] == "     3  skipped   (close)")
        #expect(lines[7] == "        not run: the server closed the connection")
    }

    @Test func programsGetOneJSONObjectPerStepThenTheSessionThenTheSummary() throws {
        let report = report()
        var summary = ReplaySummary()
        summary.add(report)
        let text = ReplayOutput.json(report) + ReplayOutput.json(summary)
        let objects = try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.map { $0["type"] as? String } == ["step", "step", "step", "session", "summary"])
        #expect(objects[1]["actual"] as? String == #"300 DRCV\r\n"#)
        #expect(objects[1]["expected_offset"] as? Int == 8)
        #expect(objects[0]["expected"] == nil)
        #expect(objects[3]["result"] as? String == "mismatch")
        #expect(objects[4]["exit_code"] as? Int == 1)
        #expect(objects[4]["matched"] as? Int == 1)
        #expect(objects[4]["skipped"] as? Int == 1)
        let latency = try #require(objects[4]["replayed_latency_us"] as? [String: Int])
        #expect(latency == ["p50": 250, "p99": 250])
    }

    @Test func jsonStringsSurviveQuotesBackslashesAndControlCharacters() throws {
        var report = SessionReport(sessionID: 9, info: nil)
        let error = "cannot read \"x\\y\"\u{01}\n\ttab é"
        report.error = error
        let line = ReplayOutput.json(report)
        #expect(line.hasPrefix(#"{"type":"session","session":9,"result":"not_run""#))
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["error"] as? String == error)
    }

    @Test func longRepliesAreCutAroundTheDifference() throws {
        let expected = Array(String(repeating: "a", count: 1_000).utf8) + Array("X".utf8) + Array(String(repeating: "b", count: 1_000).utf8)
        let shown = ReplayOutput.text({
            var report = report()
            report.steps = [StepResult(number: 1, kind: .send, outcome: .mismatch, sent: Array("GET\n".utf8), expected: expected,
                                       actual: [], difference: Difference(expectedOffset: 1_000, actualOffset: 0), reason: nil,
                                       latencyMicros: nil, recordedLatencyMicros: nil)]
            return report
        }())
        let line = try #require(shown.split(separator: "\n").first { $0.contains("expected") })
        #expect(line.contains("X"))
        #expect(line.hasSuffix("… (2001 bytes)"))
        #expect(line.count < 120)
        #expect(shown.contains("        actual    (nothing)"))
    }
}
