import LabProtocol
import Presentation
import Recording

/// How `show`, `search` and `follow` print messages for people.
struct Transcript {
    /// Wall-clock times instead of offsets from the session start.
    var absolute = false
    /// A hex dump under each message instead of the escaped bytes on its line.
    var hex = false

    /// `client 127.0.0.1:5000 → server 127.0.0.1:7070`-style heading lines of a session.
    static func header(_ session: SessionSummary) -> [String] {
        let started = RelativeTime.localTimestamp(session.startedMicros, fractionDigits: 3)
        var title = "session \(session.id)  \(session.kind)  \(EndpointText.of(session.clientHost, session.clientPort)) → \(EndpointText.of(session.serverHost, session.serverPort))"
        if !session.recorder.isEmpty { title += "  recorded by \(Escaping.escape(Array(session.recorder.utf8)))" }
        var lines = [title]
        var facts = "started \(started)"
        if let ended = session.endedMicros {
            facts += ", ended after \(DurationText.micros(ended - session.startedMicros)): \(Escaping.escape(Array((session.endReason ?? "?").utf8)))"
        } else {
            facts += ", still open"
        }
        facts += "; \(counted(session.messageCount, "message")), \(counted(session.bytesFromClient, "byte")) from client, \(session.bytesFromServer) from server"
        lines.append(facts)
        if let tls = session.tls {
            if let leg = tls.client { lines.append("TLS client ↔ wirelog: " + describe(leg)) }
            if let leg = tls.server { lines.append("TLS wirelog ↔ server: " + describe(leg)) }
        }
        return lines
    }

    /// `TLSv1.3 TLS_AES_128_GCM_SHA256, SNI a.example, ALPN h2, peer CN=…, sha256 ab12…`, escaped
    /// (names and subjects come from the network).
    private static func describe(_ leg: TLSLeg) -> String {
        var parts: [String] = []
        if let failure = leg.failure { parts.append("failed: \(failure)") }
        let suite = [leg.version, leg.cipherSuite].compactMap { $0 }.joined(separator: " ")
        if !suite.isEmpty { parts.append(suite) }
        if let sni = leg.sni { parts.append("SNI \(sni)") }
        if let alpn = leg.alpn { parts.append("ALPN \(alpn)") }
        if let subject = leg.peerSubject { parts.append("peer \(subject)") }
        if let fingerprint = leg.peerSHA256 { parts.append("sha256 \(fingerprint)") }
        if let closure = leg.closedWith { parts.append("peer closed with \(closure.rawValue)") }
        return Escaping.escape(Array(parts.joined(separator: ", ").utf8))
    }

    /// `     +0.004s  →  DATA  DATA hello\n`: time, direction, verb or code, the escaped bytes; in a
    /// mock session, then `  [recorded #17]`, the recorded message it stands for.
    func line(_ message: StoredMessage, sessionStartedMicros: Int64, marker: String = " ") -> String {
        let time = absolute
            ? RelativeTime.localTimestamp(message.atMicros, fractionDigits: 6)
            : RelativeTime.offset(message.atMicros - sessionStartedMicros)
        let arrow = message.sender == .client ? "→" : "←"
        let label = message.label
        let padded = label + String(repeating: " ", count: max(0, 6 - label.count))
        let timeColumn = String(repeating: " ", count: max(0, 12 - time.count)) + time
        let source = message.answeredBy.map { "  [recorded #\($0)]" } ?? ""
        if hex {
            let stored = message.redactions.isEmpty ? "" : " (\(message.raw.count) stored, \(counted(message.redactions.count, "span")) redacted)"
            return "\(marker)\(timeColumn)  \(arrow)  \(padded)\(message.originalLength) bytes\(stored)\(source)"
        }
        return "\(marker)\(timeColumn)  \(arrow)  \(padded)\(Self.escapedMarkingRedactions(message))\(source)"
    }

    /// The escaped bytes, each redacted span shown as `⟦REDACTED-… rule, N bytes⟧` (escaping
    /// turns every non-ASCII byte into `\xNN`, so the brackets cannot come from the message).
    static func escapedMarkingRedactions(_ message: StoredMessage) -> String {
        var text = ""
        var position = 0
        for span in message.redactions where span.offset >= position && span.storedRange.upperBound <= message.raw.count {
            text += Escaping.escape(Array(message.raw[position..<span.offset]))
            text += "⟦\(span.token(in: message.raw)) \(span.rule), \(counted(span.length, "byte"))⟧"
            position = span.storedRange.upperBound
        }
        return text + Escaping.escape(Array(message.raw[position...]))
    }

    /// The message's lines: one, or with `hex` the heading and then the dump.
    func lines(_ message: StoredMessage, sessionStartedMicros: Int64, marker: String = " ") -> [String] {
        let first = line(message, sessionStartedMicros: sessionStartedMicros, marker: marker)
        return hex ? [first] + HexDump.lines(message.raw).map { "      " + $0 } : [first]
    }
}
