import LabProtocol
import Recording

extension StoredMessage {
    /// The escaped bytes up to `end`, each redacted span shown as `⟦REDACTED-… rule, N bytes⟧`
    /// (escaping turns every non-ASCII byte into `\xNN`, so the brackets cannot come from the
    /// message): how `sessions show` and the web viewer print a message. A span that the cut at
    /// `end` splits is shown as the bytes it holds.
    public func escapedMarkingRedactions(upTo end: Int) -> String {
        var text = ""
        var position = 0
        for span in redactions where span.offset >= position && span.storedRange.upperBound <= end {
            text += Escaping.escape(Array(raw[position..<span.offset]))
            text += "⟦\(span.token(in: raw)) \(span.rule), \(counted(span.length, "byte"))⟧"
            position = span.storedRange.upperBound
        }
        return text + Escaping.escape(Array(raw[position..<end]))
    }
}
