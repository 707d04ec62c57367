import Faults
import Foundation
import Recording
import HTTPTypes
import Hummingbird
import NIOCore
import WebViewer

/// toxiproxy's HTTP API over a `ProxyFleet`: its paths, JSON shapes, status codes and error
/// bodies (`{"error":"proxy not found","status":404}`), so its clients and CLI work unchanged.
/// Served behind the web viewer's guard: loopback names only, or a token.
public enum FaultAPI {
    /// The largest request body read (a `/populate` of many proxies fits easily).
    static let maximumBody = 1 << 20

    public static func router(fleet: ProxyFleet, settings: WebViewerSettings, version: String) -> Router<BasicRequestContext> {
        let router = WebViewer.guardedRouter(settings: settings)
        router.add(middleware: NoBrowsersMiddleware())
        router.post("/reset") { _, _ in
            await answer(.noContent) { () async throws(FaultError) -> String? in
                try await fleet.reset()
                return nil
            }
        }
        router.get("/proxies") { _, _ in
            await answer { () async throws(FaultError) -> String? in
                "{" + (await fleet.all).map { "\(JSONText.quoted($0.name)):\($0.json)" }.joined(separator: ",") + "}"
            }
        }
        router.post("/proxies") { request, _ in
            let body = await read(request)
            return await answer(.created) { () async throws(FaultError) -> String? in
                try await fleet.create(try proxyRequest(try ToxicParsing.json(try body.get()), index: nil)).json
            }
        }
        router.post("/populate") { request, _ in await populate(request, fleet) }
        router.get("/proxies/:proxy") { _, context in
            await answer { () async throws(FaultError) -> String? in try await fleet.entry(context.name("proxy")).json }
        }
        for method in [HTTPRequest.Method.post, .patch] {
            router.on("/proxies/:proxy", method: method) { request, context in
                let body = await read(request)
                return await answer { () async throws(FaultError) -> String? in
                    let name = context.name("proxy")
                    _ = try await fleet.entry(name)
                    guard let object = try ToxicParsing.json(try body.get()) as? [String: Any] else {
                        throw .badRequestBody("a proxy is a JSON object")
                    }
                    return try await fleet.update(name, listen: try ToxicParsing.string(object, "listen"), upstream: try ToxicParsing.string(object, "upstream"),
                                                  enabled: try ToxicParsing.bool(object, "enabled")).json
                }
            }
        }
        router.delete("/proxies/:proxy") { _, context in
            await answer(.noContent) { () async throws(FaultError) -> String? in
                try await fleet.delete(context.name("proxy"))
                return nil
            }
        }
        router.get("/proxies/:proxy/toxics") { _, context in
            await answer { () async throws(FaultError) -> String? in
                "[" + (try await fleet.entry(context.name("proxy"))).faults.toxics.map(\.json).joined(separator: ",") + "]"
            }
        }
        router.post("/proxies/:proxy/toxics") { request, context in
            let body = await read(request)
            return await answer { () async throws(FaultError) -> String? in
                let faults = try await fleet.entry(context.name("proxy")).faults
                let toxic = try ToxicParsing.toxic(try ToxicParsing.json(try body.get()))
                try faults.add(toxic)
                return toxic.json
            }
        }
        router.get("/proxies/:proxy/toxics/:toxic") { _, context in
            await answer { () async throws(FaultError) -> String? in
                guard let toxic = try await fleet.entry(context.name("proxy")).faults.toxic(named: context.name("toxic")) else {
                    throw .toxicNotFound
                }
                return toxic.json
            }
        }
        for method in [HTTPRequest.Method.post, .patch] {
            router.on("/proxies/:proxy/toxics/:toxic", method: method) { request, context in
                let body = await read(request)
                return await answer { () async throws(FaultError) -> String? in
                    let faults = try await fleet.entry(context.name("proxy")).faults
                    // The toxic is looked for first: an unknown one is 404 whatever the body.
                    guard faults.toxic(named: context.name("toxic")) != nil else { throw .toxicNotFound }
                    let json = try ToxicParsing.json(try body.get())
                    return try faults.update(named: context.name("toxic")) { toxic throws(FaultError) in
                        try ToxicParsing.update(toxic, with: json)
                    }.json
                }
            }
        }
        router.delete("/proxies/:proxy/toxics/:toxic") { _, context in
            await answer(.noContent) { () async throws(FaultError) -> String? in
                try await fleet.entry(context.name("proxy")).faults.remove(named: context.name("toxic"))
                return nil
            }
        }
        router.get("/version") { _, _ in
            // toxiproxy writes it by hand, space included.
            Response(status: .ok, headers: [.contentType: "application/json;charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: "{\"version\": \(JSONText.quoted(version))}\n")))
        }
        return router
    }

    /// `/populate`: 201 and the proxies, or the error and `"proxies":null` (toxiproxy's shape).
    private static func populate(_ request: Request, _ fleet: ProxyFleet) async -> Response {
        do throws(FaultError) {
            let proxies = try await fleet.populate(try populateRequests(try ToxicParsing.json(try await read(request).get())))
            return json("{\"proxies\":[\(proxies.map(\.json).joined(separator: ","))]}", status: .created)
        } catch {
            return json("{\"error\":\(JSONText.quoted(error.message)),\"status\":\(error.status),\"proxies\":null}",
                        status: HTTPResponse.Status(code: error.status))
        }
    }

    /// The proxies of a `/populate` body or a `--faults` file: an array of toxiproxy's proxy
    /// objects, each with wirelog's optional `toxics`.
    public static func populateRequests(_ json: Any) throws(FaultError) -> [ProxyFleet.Request] {
        guard let array = json as? [Any] else { throw .badRequestBody("expected a JSON array of proxies") }
        var requests: [ProxyFleet.Request] = []
        for (index, element) in array.enumerated() {
            var request = try proxyRequest(element, index: index + 1)
            if let toxics = (element as? [String: Any])?["toxics"], !(toxics is NSNull) {
                guard let list = toxics as? [Any] else { throw .badRequestBody("toxics at proxy \(index + 1) must be an array") }
                for toxic in list { request.toxics.append(try ToxicParsing.toxic(toxic)) }
            }
            requests.append(request)
        }
        return requests
    }

    private static func proxyRequest(_ json: Any, index: Int?) throws(FaultError) -> ProxyFleet.Request {
        guard let object = json as? [String: Any] else { throw .badRequestBody("a proxy is a JSON object") }
        let at = index.map { " at proxy \($0)" } ?? ""
        guard let name = try ToxicParsing.string(object, "name"), !name.isEmpty else { throw .missingField("name\(at)") }
        guard let upstream = try ToxicParsing.string(object, "upstream"), !upstream.isEmpty else { throw .missingField("upstream\(at)") }
        var request = ProxyFleet.Request(name: name, listen: try ToxicParsing.string(object, "listen") ?? "127.0.0.1:0", upstream: upstream)
        request.enabled = try ToxicParsing.bool(object, "enabled") ?? true
        return request
    }

    private static func read(_ request: Request) async -> Result<[UInt8], FaultError> {
        do {
            var request = request
            let buffer = try await request.collectBody(upTo: maximumBody)
            return .success(Array(buffer.readableBytesView))
        } catch {
            return .failure(.badRequestBody("the body could not be read (at most \(maximumBody >> 10) KiB)"))
        }
    }

    /// Runs `body`: its JSON with `status`, no body for 204, or toxiproxy's error.
    private static func answer(_ status: HTTPResponse.Status = .ok,
                               _ body: () async throws(FaultError) -> String?) async -> Response {
        do throws(FaultError) {
            guard let text = try await body() else { return Response(status: status) }
            return json(text, status: status)
        } catch {
            // http.Error's line end included.
            return json(error.json + "\n", status: HTTPResponse.Status(code: error.status))
        }
    }

    private static func json(_ text: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}


extension BasicRequestContext {
    /// A path parameter (always there: the route names it).
    fileprivate func name(_ parameter: String) -> String {
        parameters.get(parameter).map { String($0) } ?? ""
    }
}

/// toxiproxy refuses browsers (403): a page elsewhere must not drive the API with the user's
/// browser, which would otherwise need no more than a form post to 127.0.0.1.
struct NoBrowsersMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.headers[.userAgent]?.hasPrefix("Mozilla/") == true {
            return Response(status: .forbidden, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: "User agent not allowed\n")))
        }
        return try await next(request, context)
    }
}
