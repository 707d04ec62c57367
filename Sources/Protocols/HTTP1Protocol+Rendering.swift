import Recording

/// HTTP as its users read it: the start line, the header lines, and a body preview when the
/// content type says it is text.
extension HTTP1Protocol {
    public static func render(_ message: RenderInput) -> RenderedMessage? {
        if message.fields[field: "continuation"] != nil {
            return RenderedMessage(label: "…", summary: "(body continued, \(message.raw.count) bytes)")
        }
        guard let bodyOffset = message.fields[field: "body_offset"]?.integer.map(Int.init),
              bodyOffset <= message.raw.count else { return nil }
        var lines = message.raw[..<bodyOffset].split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        while lines.first?.isEmpty == true { lines.removeFirst() }
        guard let startLine = lines.first else { return nil }
        let body = message.raw[bodyOffset...]
        var details = Array(lines.dropFirst())
        if !body.isEmpty { details.append(bodySummary(body, fields: message.fields, previewBytes: message.previewBytes)) }
        return RenderedMessage(summary: startLine, details: details)
    }

    /// `body 1,234 bytes: {"id": 1, …` for text, `body 5,000 bytes (image/png)` otherwise.
    static func bodySummary(_ body: ArraySlice<UInt8>, fields: [MessageField], previewBytes: Int) -> String {
        let contentType = fields[field: "content_type"]?.text?.lowercased() ?? ""
        let chunked = fields[field: "transfer_encoding"]?.text?.lowercased().contains("chunked") == true
        let size = "body \(body.count) bytes" + (chunked ? " chunked" : "")
        guard isText(contentType), !chunked else {
            return contentType.isEmpty ? size : "\(size) (\(contentType))"
        }
        let shown = body.prefix(previewBytes)
        return "\(size): " + String(decoding: shown, as: UTF8.self) + (body.count > shown.count ? "…" : "")
    }

    static func isText(_ contentType: String) -> Bool {
        contentType.hasPrefix("text/") || contentType.contains("json") || contentType.contains("xml")
            || contentType.contains("javascript") || contentType.contains("x-www-form-urlencoded")
    }
}
