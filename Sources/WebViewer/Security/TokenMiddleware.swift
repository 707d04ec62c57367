import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore

/// Every request, the event stream included, must carry the token: `Authorization: Bearer TOKEN`,
/// or the cookie a browser gets by opening any page once with `?token=TOKEN`. Otherwise 401 and no data.
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let offered = request.uri.queryParameters["token"].map(String.init), matches(offered) {
            // Trade the token in the address for a cookie, and drop it from the address bar and history.
            var response = Response(status: .seeOther, headers: [.location: TokenCookie.addressWithoutToken(request.uri)])
            response.headers[.setCookie] = "\(TokenCookie.name)=\(token); Path=/; HttpOnly; SameSite=Strict"
            return response
        }
        guard presented(request).contains(where: matches) else {
            throw ViewerError(status: .unauthorized, message: "this viewer needs its token: open it once with ?token=TOKEN, or send Authorization: Bearer TOKEN")
        }
        return try await next(request, context)
    }

    private func presented(_ request: Request) -> [String] {
        var offered: [String] = []
        // The scheme's name is case-insensitive (RFC 9110): `bearer` is `Bearer`.
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { offered.append(parts[1].trimmingCharacters(in: .whitespaces)) }
        }
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == TokenCookie.name { offered.append(String(parts[1])) }
            }
        }
        return offered
    }

    /// Compares in time that does not depend on where the strings differ.
    private func matches(_ offered: String) -> Bool {
        let a = Array(offered.utf8), b = Array(token.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<b.count { difference |= b[index] ^ (index < a.count ? a[index] : 0) }
        return difference == 0
    }
}

/// The cookie that carries the token after a first visit with `?token=`.
enum TokenCookie {
    static let name = "wirelog_token"

    /// Always a path on this site: `//evil.example/` (or `/\evil.example/`, which browsers read
    /// alike) as a Location would send the browser to another host: the leading ones become one `/`.
    static func addressWithoutToken(_ uri: URI) -> String {
        let kept = (uri.query ?? "").split(separator: "&").filter { !$0.hasPrefix("token=") }
        let path = "/" + uri.path.drop { $0 == "/" || $0 == "\\" }
        return path + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
    }
}
