import NIOCore
import Protocols

/// The reply of the `http_status` toxic: a whole HTTP/1.1 response that says it is a fault.
enum HTTPStatusText {
    private static let reasons: [Int: String] = [
        400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 408: "Request Timeout",
        429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
        504: "Gateway Timeout",
    ]

    /// `503 Service Unavailable`
    static func line(_ status: Int) -> String { "\(status) \(reasons[status] ?? "Fault")" }

    static func response(_ status: Int) -> ByteBuffer {
        ByteBuffer(bytes: HTTP1Protocol.textResponse(line(status), body: "wirelog fault: \(line(status))\n", closing: true))
    }
}
