import LabProtocol
import Presentation
import Protocols
import Recording

/// How `show`, `search` and `follow` print messages for people.
struct Transcript {
    /// Wall-clock times instead of offsets from the session start.
    var absolute = false
    /// A hex dump under each message instead of the escaped bytes on its line.
    var hex = false
    /// Bytes of a message shown before it is cut, with a note of what is hidden; nil shows all.
    var byteLimit: Int?
    /// The session's protocol, to show decoded messages as its users read them; nil (`--raw`, or
    /// a protocol that renders nothing) shows the bytes.
    var rendering: (any WireProtocol.Type)?

    /// `client 127.0.0.1:5000 → server 127.0.0.1:7070`-style heading lines of a session.
    static func header(_ session: SessionSummary) -> [String] {
        let started = RelativeTime.localTimestamp(session.startedMicros, fractionDigits: 3)
        var title = "session \(session.id)  \(session.kind)  \(EndpointText.of(session.clientHost, session.clientPort)) → \(EndpointText.of(session.serverHost, session.serverPort))"
        if !session.recorder.isEmpty { title += "  recorded by \(Escaping.escape(Array(session.recorder.utf8)))" }
        return [title, "started \(started), \(ending(session))"] + TLSText.lines(session.tls) + FaultText.lines(session)
    }

    /// `ended after 70.4ms: quit; 6 messages, 32 bytes from client, 24 from server` (or `still open; …`).
    static func ending(_ session: SessionSummary) -> String {
        let end = session.endedMicros.map {
            "ended after \(DurationText.micros($0 - session.startedMicros)): \(Escaping.escape(Array((session.endReason ?? "?").utf8)))"
        } ?? "still open"
        return end + "; \(counted(session.messageCount, "message")), \(counted(session.bytesFromClient, "byte")) from client, \(session.bytesFromServer) from server"
    }

    /// `     +0.004s  →  DATA  DATA hello\n`: time, direction, verb or code, the escaped bytes; in a
    /// mock session, then `  [recorded #17]`, the recorded message it stands for.
    func line(_ message: StoredMessage, sessionStartedMicros: Int64, marker: String = " ") -> String {
        let start = prefix(message, sessionStartedMicros: sessionStartedMicros, marker: marker, label: message.label)
        let source = message.answeredBy.map { "  [recorded #\($0)]" } ?? ""
        let undecoded = message.decodeError.map { "  [not decoded: \(Escaping.escape(Array($0.utf8)))]" } ?? ""
        if hex {
            let stored = message.redactions.isEmpty ? "" : " (\(message.raw.count) stored, \(counted(message.redactions.count, "span")) redacted)"
            return "\(start)\(message.originalLength) bytes\(stored)\(source)\(undecoded)"
        }
        let (shown, hidden) = cut(message.raw)
        return "\(start)\(message.escapedMarkingRedactions(upTo: shown.count))"
            + "\(hiddenNote(hidden, separator: "  "))\(source)\(undecoded)"
    }

    /// `     +0.004s  →  DATA  `: marker, time, direction and label, padded.
    private func prefix(_ message: StoredMessage, sessionStartedMicros: Int64, marker: String, label: String) -> String {
        let time = absolute
            ? RelativeTime.localTimestamp(message.atMicros, fractionDigits: 6)
            : RelativeTime.offset(message.atMicros - sessionStartedMicros)
        let arrow = message.sender == .client ? "→" : "←"
        // Two spaces at least: a long verb must not run into the bytes, where it would read as sent.
        let padded = label + String(repeating: " ", count: max(label.isEmpty ? 0 : 2, 6 - label.count))
        let timeColumn = String(repeating: " ", count: max(0, 12 - time.count)) + time
        return "\(marker)\(timeColumn)  \(arrow)  \(padded)"
    }

    /// Where a decoded message's detail lines start: under its summary.
    private static let detailIndent = String(repeating: " ", count: 24)

    /// A decoded message as its protocol reads: the summary on the message's line (with, on a
    /// response, how long its exchange took), details indented below; nil when it has none.
    private func rendered(_ message: StoredMessage, sessionStartedMicros: Int64, marker: String) -> [String]? {
        guard let rendering, !hex, let rendered = rendering.rendered(message, previewBytes: min(byteLimit ?? 4096, 4096)) else { return nil }
        let label = rendered.label ?? message.label
        let took = message.exchange.map { "  (\(DurationText.micros($0.durationMicros)))" } ?? ""
        let summary = Escaping.escape(Array(rendered.summary.utf8))
        return [prefix(message, sessionStartedMicros: sessionStartedMicros, marker: marker, label: label) + summary + took]
            + rendered.details.map { Self.detailIndent + Escaping.escape(Array($0.utf8)) }
    }

    /// The message's lines: one, or with `hex` the heading and then the dump; a decoded message as
    /// its protocol reads.
    func lines(_ message: StoredMessage, sessionStartedMicros: Int64, marker: String = " ") -> [String] {
        if let rendered = rendered(message, sessionStartedMicros: sessionStartedMicros, marker: marker) { return rendered }
        let first = line(message, sessionStartedMicros: sessionStartedMicros, marker: marker)
        guard hex else { return [first] }
        let (shown, hidden) = cut(message.raw)
        let note = hiddenNote(hidden, separator: "      ")
        return [first] + HexDump.lines(shown).map { "      " + $0 } + (note.isEmpty ? [] : [note])
    }

    /// The first `byteLimit` bytes, not splitting a UTF-8 character, and how many are left out.
    private func cut(_ raw: [UInt8]) -> (shown: [UInt8], hidden: Int) {
        guard let byteLimit, raw.count > byteLimit else { return (raw, 0) }
        var end = byteLimit
        // Back off over up to three continuation bytes (10xxxxxx) to the start of their character.
        while end > byteLimit - 3, end > 1, raw[end] & 0xC0 == 0x80 { end -= 1 }
        if raw[end] & 0xC0 == 0x80 { end = byteLimit }
        return (Array(raw[..<end]), raw.count - end)
    }

    /// `[… 65,024 more bytes: --full shows all]`, after `separator`; empty when nothing is hidden.
    private func hiddenNote(_ hidden: Int, separator: String) -> String {
        hidden == 0 ? "" : "\(separator)[… \(grouped(hidden)) more \(hidden == 1 ? "byte" : "bytes"): --full shows all]"
    }
}
