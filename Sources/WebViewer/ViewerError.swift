import Foundation
import Hummingbird
import Presentation
import Recording

/// How a failure reaches a person: the status and the words. API requests get `{"error": …}`,
/// pages an HTML page with the same words (escaped).
struct ViewerError: Error {
    let status: HTTPResponse.Status
    let message: String

    static func notFound(_ message: String) -> ViewerError { ViewerError(status: .notFound, message: message) }
    static func badRequest(_ message: String) -> ViewerError { ViewerError(status: .badRequest, message: message) }

    /// Any error a handler threw, worded: unknown sessions are 404, unreadable input 400, and a
    /// store that cannot be read 503 (the server stays up and tries the store again next time).
    init(_ error: any Error) {
        switch error {
        case let error as ViewerError: self = error
        case let error as RecordingError: self = .notFound(error.description)
        case let error as InputError: self = .badRequest(error.description)
        case let error as StoreFailure: self.init(status: .serviceUnavailable, message: "the store cannot be read: \(error)")
        case let error as HTTPError: self.init(status: error.status, message: error.body ?? error.status.reasonPhrase)
        default: self.init(status: .serviceUnavailable, message: "the store cannot be read: \(error)")
        }
    }

    init(status: HTTPResponse.Status, message: String) {
        self.status = status
        self.message = message
    }

    func response(forAPI: Bool) -> Response {
        if forAPI {
            return Response(status: status, headers: [.contentType: "application/json"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: Self.jsonBody(message))))
        }
        return PageShell.errorPage(status: status, message: message)
    }

    /// `{"error": message}`.
    static func jsonBody(_ message: String) -> Data {
        (try? JSONEncoder().encode(["error": message])) ?? Data("{}".utf8)
    }
}

/// Turns every error into `ViewerError`'s response, so no handler repeats the mapping and no
/// framework default leaks a type name.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return ViewerError(error).response(forAPI: request.uri.path.hasPrefix("/api/"))
        }
    }
}
