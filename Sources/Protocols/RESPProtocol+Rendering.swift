import Recording

/// RESP as redis-cli users read it: a command as its words (`SET greeting hello`), a reply as
/// `+OK`, `-ERR …`, `:5`, `"hello"`, `(nil)`, `*2 ["a", "b"]`.
extension RESPProtocol {
    /// Elements of an aggregate shown before `…`.
    static let renderedElements = 10

    public static func render(_ message: RenderInput) -> RenderedMessage? {
        if message.fields[field: "continuation"] != nil { return RenderedMessage(label: "…", summary: "(continued)") }
        var reader = RESPRenderReader(bytes: message.raw, previewBytes: message.previewBytes)
        if message.sender == .client {
            guard let words = reader.commandWords() else { return nil }
            return RenderedMessage(summary: words.map(quotedIfNeeded).joined(separator: " "))
        }
        guard let reply = reader.value(depth: 0) else { return nil }
        // The reply's first character says its type: no label repeats it.
        return RenderedMessage(label: "", summary: reply)
    }

    private static func quotedIfNeeded(_ word: String) -> String {
        word.isEmpty || word.contains(where: { $0 == " " || $0 == "\"" }) ? "\"" + word.replacingQuotes() + "\"" : word
    }
}

extension String {
    fileprivate func replacingQuotes() -> String {
        var escaped = ""
        for character in self {
            if character == "\"" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}

/// Reads a stored RESP message back for display only (the decoder framed it): lenient, bounded.
private struct RESPRenderReader {
    let bytes: [UInt8]
    let previewBytes: Int
    var index = 0

    init(bytes: [UInt8], previewBytes: Int) {
        self.bytes = bytes
        self.previewBytes = previewBytes
    }

    /// A command's words: an array of bulk strings, or an inline line.
    mutating func commandWords() -> [String]? {
        guard index < bytes.count else { return nil }
        guard bytes[index] == UInt8(ascii: "*") else {
            let line = bytes.prefix { $0 != 0x0A && $0 != 0x0D }
            return String(decoding: line, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        }
        index += 1
        guard let count = line().flatMap({ Int($0) }), count >= 0 else { return nil }
        var words: [String] = []
        for _ in 0..<min(count, 64) {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "$") else { return nil }
            index += 1
            guard let word = bulk() else { return nil }
            words.append(word)
        }
        if count > 64 { words.append("… \(count - 64) more") }
        return words
    }

    /// One reply as text.
    mutating func value(depth: Int) -> String? {
        guard index < bytes.count, depth < 8 else { return nil }
        let type = bytes[index]
        index += 1
        switch type {
        case UInt8(ascii: "+"): return line().map { "+" + $0 }
        case UInt8(ascii: "-"): return line().map { "-" + $0 }
        case UInt8(ascii: ":"): return line().map { ":" + $0 }
        case UInt8(ascii: ","), UInt8(ascii: "("): return line()
        case UInt8(ascii: "#"): return line().map { $0 == "t" ? "(true)" : "(false)" }
        case UInt8(ascii: "_"): _ = line(); return "(nil)"
        case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
            return bulk().map { "\"" + $0.replacingQuotes() + "\"" } ?? "(nil)"
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            guard let count = line().flatMap({ Int($0) }) else { return nil }
            if count < 0 { return "(nil)" }
            let elements = type == UInt8(ascii: "%") || type == UInt8(ascii: "|") ? count * 2 : count
            var shown: [String] = []
            for _ in 0..<elements {
                guard shown.count < RESPProtocol.renderedElements, let element = value(depth: depth + 1) else { break }
                shown.append(element)
            }
            let more = elements > shown.count ? ", …" : ""
            let prefix = String(UnicodeScalar(type)) + String(count)
            if type == UInt8(ascii: "|") { return "\(prefix) [\(shown.joined(separator: ", "))\(more)] " + (value(depth: depth) ?? "") }
            return "\(prefix) [\(shown.joined(separator: ", "))\(more)]"
        default:
            return nil
        }
    }

    /// The rest of a CRLF-terminated line, without it.
    private mutating func line() -> String? {
        guard let end = bytes[index...].firstIndex(of: 0x0A) else { return nil }
        var content = end
        if content > index, bytes[content - 1] == 0x0D { content -= 1 }
        let text = String(decoding: bytes[index..<content], as: UTF8.self)
        index = end + 1
        return text
    }

    /// A bulk string's length line and bytes (cut at the preview), or nil for a null bulk.
    private mutating func bulk() -> String? {
        guard let length = line().flatMap({ Int($0) }), length >= 0 else { return nil }
        let end = min(bytes.count, index + length)
        let shown = bytes[index..<min(end, index + previewBytes)]
        let text = String(decoding: shown, as: UTF8.self) + (end - index > shown.count ? "…" : "")
        index = min(bytes.count, end + 2)
        return text
    }
}
