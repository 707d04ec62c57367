import Hummingbird
import Presentation
import Recording

/// `/api/sessions…`: the list with keyset pages, one session, its messages a page at a time.
struct SessionsAPI {
    let store: ViewerStore

    func add(to router: Router<BasicRequestContext>) {
        router.get("/api/sessions") { request, _ in try await list(request) }
        router.get("/api/sessions/:id") { _, context in
            let id = try context.sessionID()
            return try Response.json(SessionView(try await store.read { try await $0.session(id) }))
        }
        router.get("/api/sessions/:id/messages") { request, context in try await messages(request, id: try context.sessionID()) }
        router.get("/api/sessions/:id/messages/:message") { _, context in
            try await wholeMessage(session: try context.sessionID(), message: try context.sessionID("message"))
        }
    }

    private func list(_ request: Request) async throws -> Response {
        let filter = try request.sessionFilter()
        let limit = try request.positiveInt("limit", default: 50, maximum: 500)
        if let text = request.query("q") {
            // Text search: the sessions of the newest matching messages, one row each (no further pages).
            let needle = try SearchText.bytes(text)
            let hits = try await store.read { try await $0.search(needle, filter: filter, limit: limit * 4, context: 0) }
            var seen = Set<Int64>()
            let sessions = hits.map(\.session).filter { seen.insert($0.id).inserted }.prefix(limit)
            return try Response.json(SessionPage(sessions: sessions.map(SessionView.init), next: nil))
        }
        let before = try request.listPosition
        let sessions = try await store.read { try await $0.list(filter, limit: limit, before: before) }
        let next = sessions.count == limit ? sessions.last.map { SessionListPosition(after: $0).text } : nil
        return try Response.json(SessionPage(sessions: sessions.map(SessionView.init), next: next))
    }

    private func messages(_ request: Request, id: Int64) async throws -> Response {
        let limit = try request.positiveInt("limit", default: 200, maximum: 2_000)
        let after = try request.int64("after") ?? 0
        let sender = try Sender(query: request.query("sender"))
        let (session, page, exchanges, next) = try await store.read { store in
            let session = try await store.session(id)
            var messages: [StoredMessage] = []
            var exchanges: [ExchangeRow] = []
            var position = after
            // A direction filter skips the other side's messages, reading on until the page is full.
            reading: while true {
                let read = try await store.messages(ofSession: id, after: position, limit: limit)
                for message in read {
                    guard sender == nil || message.sender == sender else { continue }
                    messages.append(message)
                    if messages.count == limit { break }
                }
                // The exchanges of every message up to the page's last, of both sides.
                let covered = messages.count == limit ? read.prefix { $0.id <= messages[limit - 1].id } : read[...]
                exchanges += ExchangeRow.rows(covered)
                guard messages.count < limit, read.count == limit, let last = read.last else { break }
                position = last.id
            }
            let next = messages.count == limit ? messages.last?.id : nil
            return (session, messages, ExchangeRow.joined(exchanges), next)
        }
        let views = page.map { MessageView($0, sessionStartedMicros: session.startedMicros, decoding: session.decoding) }
        return try Response.json(MessagePage(session: SessionView(session), messages: views, exchanges: exchanges, next: next))
    }

    private func wholeMessage(session id: Int64, message messageID: Int64) async throws -> Response {
        let (session, found) = try await store.read { store in
            (try await store.session(id), try await store.messages(ofSession: id, after: messageID - 1, limit: 1).first)
        }
        guard let found, found.id == messageID else {
            throw ViewerError.notFound("no message \(messageID) in session \(id)")
        }
        return try Response.json(MessageView(found, sessionStartedMicros: session.startedMicros, decoding: session.decoding, whole: true))
    }
}
