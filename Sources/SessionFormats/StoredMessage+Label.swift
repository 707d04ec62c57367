import LabProtocol
import Recording

extension StoredMessage {
    /// What a transcript shows beside the bytes: the reply code of a reply, the verb (escaped) of
    /// a command, or `-`.
    public var label: String {
        if let replyCode { return String(replyCode) }
        if let verb { return Escaping.escape(Array(verb.utf8)) }
        return "-"
    }
}
