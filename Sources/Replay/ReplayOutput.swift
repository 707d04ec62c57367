import Foundation
import LabProtocol

/// Replay results as text for people and as NDJSON for programs.
public enum ReplayOutput {
    /// Longest escaped text shown for one side of a mismatch; longer ones are cut around the difference.
    static let excerptLimit = 240

    // MARK: For people

    public static func text(_ report: SessionReport) -> String {
        var lines: [String] = []
        var header = "session \(report.sessionID)"
        if let info = report.info {
            header += "  \(info.kind.rawValue)/\(info.decoding.rawValue)  \(info.clientHost):\(info.clientPort) → \(info.serverHost):\(info.serverPort)"
        }
        if let error = report.error {
            lines.append("\(header)  NOT RUN: \(error)")
            return lines.joined(separator: "\n") + "\n"
        }
        let verdict = report.isMatch ? "all \(report.steps.count) steps match"
            : "\(report.mismatches) of \(report.steps.count) steps differ" + (report.skipped > 0 ? ", \(report.skipped) not run" : "")
        lines.append("\(header)  \(verdict)")
        let sentWidth = 32
        for step in report.steps {
            let outcome = step.outcome == .match ? "match" : step.outcome == .mismatch ? "MISMATCH" : "skipped"
            var sent = step.kind == .send ? Escaping.escape(step.sent) : "(\(step.kind.rawValue))"
            if sent.count > sentWidth { sent = String(sent.prefix(sentWidth - 1)) + "…" }
            var line = "  " + pad(String(step.number), 4, right: true) + "  " + pad(outcome, 8) + "  " + pad(sent, sentWidth)
            if let latency = step.latencyMicros {
                line += "  " + formatMicros(latency)
                if let recorded = step.recordedLatencyMicros { line += " (recorded \(formatMicros(recorded)))" }
            }
            lines.append(line.trimmingTrailingSpaces())
            if step.outcome == .mismatch {
                if let reason = step.reason { lines.append("        \(reason)") }
                if step.kind != .close || !step.actual.isEmpty {
                    let difference = step.difference ?? Difference(expectedOffset: 0, actualOffset: 0)
                    if step.kind != .close {
                        lines.append("        expected  " + excerpt(step.expected, around: difference.expectedOffset))
                    }
                    lines.append("        actual    " + excerpt(step.actual, around: difference.actualOffset))
                    if step.kind != .close {
                        var at = "        first difference at byte \(difference.expectedOffset)"
                        if difference.actualOffset != difference.expectedOffset {
                            at += " of the recorded bytes, byte \(difference.actualOffset) of the actual ones"
                        }
                        lines.append(at)
                    }
                }
            } else if step.outcome == .skipped, step.number == report.steps.first(where: { $0.outcome == .skipped })?.number,
                      let reason = step.reason {
                lines.append("        \(reason)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func text(_ summary: ReplaySummary, recorded: [(original: Int64, replay: Int64)] = []) -> String {
        var lines: [String] = []
        var first = "replayed \(summary.sessions) session\(summary.sessions == 1 ? "" : "s"), \(summary.steps) steps: "
            + "\(summary.matched) match, \(summary.mismatched) mismatch"
        if summary.skipped > 0 { first += ", \(summary.skipped) not run" }
        if summary.sessionsNotRun > 0 { first += "; \(summary.sessionsNotRun) session\(summary.sessionsNotRun == 1 ? "" : "s") could not be replayed" }
        lines.append(first)
        if let recordedLatency = summary.recordedLatency, let replayed = summary.replayedLatency {
            lines.append("latency   " + pad("p50", 10, right: true) + pad("p99", 10, right: true))
            lines.append("recorded  " + pad(formatMicros(recordedLatency.p50), 10, right: true) + pad(formatMicros(recordedLatency.p99), 10, right: true))
            lines.append("replayed  " + pad(formatMicros(replayed.p50), 10, right: true) + pad(formatMicros(replayed.p99), 10, right: true))
        }
        for pair in recorded {
            lines.append("session \(pair.original) replayed as session \(pair.replay)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The escaped bytes, cut to a window around `offset` when long.
    static func excerpt(_ bytes: [UInt8], around offset: Int) -> String {
        if bytes.isEmpty { return "(nothing)" }
        let full = Escaping.escape(bytes)
        guard full.count > excerptLimit else { return full }
        // Escaping changes lengths; cut in bytes, then escape the window.
        let start = max(0, min(offset - excerptLimit / 8, bytes.count - excerptLimit / 4))
        let end = min(bytes.count, start + excerptLimit / 4)
        return (start > 0 ? "…" : "") + Escaping.escape(bytes[start..<end]) + (end < bytes.count ? "…" : "")
            + " (\(bytes.count) bytes)"
    }

    public static func formatMicros(_ micros: Int64) -> String {
        if micros < 1_000 { return "\(micros)µs" }
        if micros < 1_000_000 { return String(format: "%.2fms", Double(micros) / 1_000) }
        return String(format: "%.2fs", Double(micros) / 1_000_000)
    }

    private static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return right ? padding + text : text + padding
    }

    // MARK: For programs (one JSON object per line)

    public static func json(_ report: SessionReport) -> String {
        var lines: [String] = []
        for step in report.steps {
            var object: [String: Any] = [
                "type": "step", "session": report.sessionID, "step": step.number,
                "kind": step.kind.rawValue, "result": step.outcome.rawValue,
            ]
            if step.kind == .send { object["sent"] = Escaping.escape(step.sent) }
            if step.outcome == .mismatch {
                object["expected"] = Escaping.escape(step.expected)
                object["actual"] = Escaping.escape(step.actual)
                if let difference = step.difference {
                    object["expected_offset"] = difference.expectedOffset
                    object["actual_offset"] = difference.actualOffset
                }
            }
            object["reason"] = step.reason
            object["latency_us"] = step.latencyMicros
            object["recorded_latency_us"] = step.recordedLatencyMicros
            lines.append(encode(object))
        }
        var session: [String: Any] = [
            "type": "session", "session": report.sessionID,
            "result": report.error != nil ? "not_run" : report.isMatch ? "match" : "mismatch",
            "steps": report.steps.count, "mismatches": report.mismatches, "skipped": report.skipped,
        ]
        session["error"] = report.error
        lines.append(encode(session))
        return lines.joined(separator: "\n") + "\n"
    }

    public static func json(_ summary: ReplaySummary, recorded: [(original: Int64, replay: Int64)] = []) -> String {
        var object: [String: Any] = [
            "type": "summary", "sessions": summary.sessions,
            "sessions_with_differences": summary.sessionsWithDifferences, "sessions_not_run": summary.sessionsNotRun,
            "steps": summary.steps, "matched": summary.matched, "mismatches": summary.mismatched, "skipped": summary.skipped,
            "exit_code": Int(summary.exitCode),
        ]
        if let latency = summary.recordedLatency { object["recorded_latency_us"] = ["p50": latency.p50, "p99": latency.p99] }
        if let latency = summary.replayedLatency { object["replayed_latency_us"] = ["p50": latency.p50, "p99": latency.p99] }
        if !recorded.isEmpty {
            object["replay_sessions"] = recorded.map { ["session": $0.original, "replay_session": $0.replay] }
        }
        return encode(object) + "\n"
    }

    private static func encode(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
