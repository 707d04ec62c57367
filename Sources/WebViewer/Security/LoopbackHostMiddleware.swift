import Hummingbird
import LabProtocol

/// Without a token, the loopback viewer answers only requests addressed to this machine by name
/// (`Host: localhost`, `127.0.0.1`, `[::1]`, with any port). A page of another site can make its
/// own name resolve to 127.0.0.1 (DNS rebinding) and then read the viewer as itself; its requests
/// still carry that name, and get 421 and no data.
struct LoopbackHostMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let authority = request.head.authority, Self.namesThisMachine(authority) else {
            let named = request.head.authority.map { "'\(Escaping.escape(Array($0.utf8)))'" } ?? "no host"
            throw ViewerError(status: .misdirectedRequest,
                              message: "this viewer answers only to localhost, 127.0.0.1 or [::1], not to \(named): open it by one of those, or give it a token")
        }
        return try await next(request, context)
    }

    /// `host[:port]` where host is `localhost` (or a name under it, RFC 6761), an IPv4 address
    /// 127.x.x.x or `[::1]`.
    static func namesThisMachine(_ authority: String) -> Bool {
        let host = authority.hasPrefix("[")
            ? authority.prefix { $0 != "]" } + "]"
            : authority.prefix { $0 != ":" }
        let name = host.lowercased()
        if name == "localhost" || name.hasSuffix(".localhost") || name == "[::1]" { return true }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { UInt8($0) != nil } && octets[0] == "127"
    }
}
