import Foundation
import LabProtocol
import Presentation
import Recording

/// Replay results as text for people and as NDJSON for programs.
public enum ReplayOutput {
    /// Longest escaped text shown for one side of a mismatch; longer ones are cut around the difference.
    static let excerptLimit = 240
    /// Most differing fields listed for one step.
    static let maxFieldsShown = 10

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
        let verdict = report.isMatch
            ? (report.steps.count == 1 ? "the only step matches" : "all \(report.steps.count) steps match")
            : "\(report.mismatches) of \(counted(report.steps.count, "step")) differ"
                + (report.redacted > 0 ? ", \(report.redacted) not sent (redacted)" : "")
                + (report.skipped > 0 ? ", \(report.skipped) not run" : "")
        lines.append("\(header)  \(verdict)")
        let sentWidth = 32
        for step in report.steps {
            let outcome = switch step.outcome {
            case .match: "match"
            case .mismatch: "MISMATCH"
            case .skipped: "skipped"
            case .redacted: "REDACTED"
            }
            var sent = step.kind == .send ? Escaping.escape(step.sent) : "(\(step.kind.rawValue))"
            if sent.count > sentWidth { sent = String(sent.prefix(sentWidth - 1)) + "…" }
            var line = "  " + pad(String(step.number), 4, right: true) + "  " + pad(outcome, 8) + "  " + pad(sent, sentWidth)
            if let latency = step.latencyMicros {
                line += "  " + DurationText.micros(latency)
                if let recorded = step.recordedLatencyMicros { line += " (recorded \(DurationText.micros(recorded)))" }
            }
            lines.append(line.trimmingTrailingSpaces())
            if step.outcome == .mismatch {
                if let reason = step.reason { lines.append("        \(reason)") }
                if !step.fieldDifferences.isEmpty {
                    for field in step.fieldDifferences.prefix(maxFieldsShown) {
                        lines.append("        differs   \(field.name): recorded \(field.shownExpected), now \(field.shownActual)")
                    }
                    if step.fieldDifferences.count > maxFieldsShown {
                        lines.append("        … and \(step.fieldDifferences.count - maxFieldsShown) more fields")
                    }
                } else if step.kind != .close || !step.actual.isEmpty {
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
            } else if step.outcome == .match || step.outcome == .redacted, let reason = step.reason {
                lines.append("        \(reason)")
            } else if step.outcome == .skipped, step.number == report.steps.first(where: { $0.outcome == .skipped })?.number,
                      let reason = step.reason {
                lines.append("        \(reason)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func text(_ summary: ReplaySummary, recorded: [(original: Int64, replay: Int64)] = []) -> String {
        var lines: [String] = []
        var first = "replayed \(counted(summary.sessions, "session")), \(counted(summary.steps, "step")): "
            + "\(summary.matched) match, \(summary.mismatched) mismatch"
        if summary.redacted > 0 { first += ", \(summary.redacted) not sent (redacted)" }
        if summary.skipped > 0 { first += ", \(summary.skipped) not run" }
        if summary.sessionsNotRun > 0 { first += "; \(counted(summary.sessionsNotRun, "session")) could not be replayed" }
        lines.append(first)
        if let recordedLatency = summary.recordedLatency, let replayed = summary.replayedLatency {
            lines.append("latency   " + pad("p50", 10, right: true) + pad("p99", 10, right: true))
            lines.append("recorded  " + pad(DurationText.micros(recordedLatency.p50), 10, right: true) + pad(DurationText.micros(recordedLatency.p99), 10, right: true))
            lines.append("replayed  " + pad(DurationText.micros(replayed.p50), 10, right: true) + pad(DurationText.micros(replayed.p99), 10, right: true))
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

    private static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return right ? padding + text : text + padding
    }

    // MARK: For programs (one JSON object per line)

    public static func json(_ report: SessionReport) -> String {
        var out = ""
        for step in report.steps {
            var object = JSONLine()
            object.add("type", "step")
            object.add("session", report.sessionID)
            object.add("step", step.number)
            object.add("kind", step.kind.rawValue)
            object.add("result", step.outcome.rawValue)
            if step.kind == .send { object.add("sent", Escaping.escape(step.sent)) }
            if step.outcome == .mismatch {
                object.add("expected", Escaping.escape(step.expected))
                object.add("actual", Escaping.escape(step.actual))
                if let difference = step.difference {
                    object.add("expected_offset", difference.expectedOffset)
                    object.add("actual_offset", difference.actualOffset)
                }
                if !step.fieldDifferences.isEmpty {
                    let fields = step.fieldDifferences.map { field in
                        var entry = JSONLine()
                        entry.add("name", field.name)
                        entry.add("expected", field.expected)
                        entry.add("actual", field.actual)
                        return String(entry.finish().dropLast())
                    }
                    object.addRaw("fields", "[" + fields.joined(separator: ",") + "]")
                }
            }
            object.add("reason", step.reason)
            object.add("latency_us", step.latencyMicros)
            object.add("recorded_latency_us", step.recordedLatencyMicros)
            out += object.finish()
        }
        var session = JSONLine()
        session.add("type", "session")
        session.add("session", report.sessionID)
        session.add("result", report.error != nil ? "not_run" : report.isMatch ? "match" : "mismatch")
        session.add("steps", report.steps.count)
        session.add("mismatches", report.mismatches)
        session.add("skipped", report.skipped)
        session.add("redacted", report.redacted)
        session.add("error", report.error)
        return out + session.finish()
    }

    public static func json(_ summary: ReplaySummary, recorded: [(original: Int64, replay: Int64)] = []) -> String {
        var object = JSONLine()
        object.add("type", "summary")
        object.add("sessions", summary.sessions)
        object.add("sessions_with_differences", summary.sessionsWithDifferences)
        object.add("sessions_not_run", summary.sessionsNotRun)
        object.add("steps", summary.steps)
        object.add("matched", summary.matched)
        object.add("mismatches", summary.mismatched)
        object.add("redacted", summary.redacted)
        object.add("skipped", summary.skipped)
        object.add("exit_code", Int(summary.exitCode))
        for (key, latency) in [("recorded_latency_us", summary.recordedLatency), ("replayed_latency_us", summary.replayedLatency)] {
            if let latency { object.addRaw(key, "{\"p50\":\(latency.p50),\"p99\":\(latency.p99)}") }
        }
        if !recorded.isEmpty {
            let pairs = recorded.map { "{\"session\":\($0.original),\"replay_session\":\($0.replay)}" }
            object.addRaw("replay_sessions", "[" + pairs.joined(separator: ",") + "]")
        }
        return object.finish()
    }
}

/// One JSON object on one line, keys in the order added. Hand-written because
/// JSONSerialization cost more than the replay itself on large runs.
struct JSONLine {
    private var text = "{"
    private var isEmpty = true

    mutating func add(_ key: String, _ value: String?) {
        guard let value else { return }
        addRaw(key, JSONText.quoted(value))
    }

    mutating func add(_ key: String, _ value: (some BinaryInteger)?) {
        guard let value else { return }
        addRaw(key, String(value))
    }

    mutating func addRaw(_ key: String, _ json: String) {
        if !isEmpty { text += "," }
        isEmpty = false
        text += JSONText.quoted(key) + ":" + json
    }

    func finish() -> String { text + "}\n" }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
