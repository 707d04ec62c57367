/// Responses wirelog writes itself (the `http_status` fault, the mock's misses).
extension HTTP1Protocol {
    /// A whole HTTP/1.1 response with a plain-text body; `closing` adds `Connection: close`.
    public static func textResponse(_ statusLine: String, body: String, closing: Bool) -> [UInt8] {
        let body = Array(body.utf8)
        return Array(("HTTP/1.1 \(statusLine)\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.count)\r\n"
            + (closing ? "Connection: close\r\n" : "") + "\r\n").utf8) + body
    }
}
