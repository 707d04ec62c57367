import LabProtocol
import Recording

extension [RedactedSpan] {
    /// `raw` up to `end` (all of it by default) escaped, each of these spans shown as
    /// `⟦REDACTED-… rule, N bytes⟧` (escaping turns every non-ASCII byte into `\xNN`, so the
    /// brackets cannot come from the message): how `sessions show` and the web viewer print
    /// recorded bytes. A span that the cut at `end` splits is shown as the bytes it holds.
    public func markedText(in raw: [UInt8], upTo end: Int? = nil) -> String {
        let end = end ?? raw.count
        var text = ""
        var position = 0
        for span in self where span.offset >= position && span.storedRange.upperBound <= end {
            text += Escaping.escape([UInt8](raw[position..<span.offset]))
            text += "⟦\(span.token(in: raw)) \(span.rule), \(counted(span.length, "byte"))⟧"
            position = span.storedRange.upperBound
        }
        return text + Escaping.escape([UInt8](raw[position..<end]))
    }
}

extension StoredMessage {
    /// The escaped bytes up to `end`, each redacted span marked (`[RedactedSpan].markedText`).
    public func escapedMarkingRedactions(upTo end: Int) -> String {
        redactions.markedText(in: raw, upTo: end)
    }
}
