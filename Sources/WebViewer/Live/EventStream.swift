import Foundation
import HTTPTypes
import Hummingbird
import Recording
import ServiceLifecycle
import SessionFormats

/// `/api/events`: Server-Sent Events from the `LiveFeed`. A list page gets `session` events for
/// the sessions its filters admit; `?session=ID` gets that session's `session` and `message`
/// events. Every event's id is a message id: a browser that reconnects sends it as
/// Last-Event-ID and first gets what it missed (or `reset` when that is too much to replay).
struct EventStream {
    let store: ViewerStore
    let feed: LiveFeed

    func add(to router: Router<BasicRequestContext>) {
        router.get("/api/events") { request, _ in try await events(request) }
    }

    private func events(_ request: Request) async throws -> Response {
        let selection = EventSelection(filter: try request.filterArguments.filter(), sessionID: try request.int64("session"))
        // The browser sends Last-Event-ID when it reconnects; the page passes it itself after a refusal.
        let lastEventID = (request.headers[HTTPField.Name("Last-Event-ID")!] ?? request.query("last_event_id")).flatMap { Int64($0) }
        let (position, sequence, updates) = try await feed.watch()
        let missed = if let lastEventID { try await catchUp(after: lastEventID, through: position) } else { CatchUp.nothing }
        var headers: HTTPFields = [.contentType: "text/event-stream; charset=utf-8"]
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return Response(status: .ok, headers: headers, body: ResponseBody { [selection] writer in
            var selection = selection
            switch missed {
            case .nothing: break
            case .update(let update): try await writer.write(ByteBuffer(string: selection.events(update)))
            case .tooMuch: try await writer.write(ByteBuffer(string: Self.event("reset", id: position, data: "{}")))
            }
            try await writer.write(ByteBuffer(string: Self.event("hello", id: position, data: "{\"position\":\(position)}")))
            var expected = sequence + 1
            var quiet = 0
            for await update in updates.cancelOnGracefulShutdown() {
                defer { expected = update.sequence + 1 }
                if update.sequence != expected {
                    // Updates were dropped for this watcher: the page must reload what it shows.
                    try await writer.write(ByteBuffer(string: Self.event("reset", id: update.position, data: "{}")))
                    continue
                }
                let text = selection.events(update)
                quiet = text.isEmpty ? quiet + 1 : 0
                // A comment now and then finds a closed connection and keeps proxies from timing out.
                if !text.isEmpty || quiet % 30 == 0 { try await writer.write(ByteBuffer(string: text.isEmpty ? ": idle\n\n" : text)) }
            }
            try await writer.finish(nil)
        })
    }

    enum CatchUp: Sendable {
        case nothing
        case update(LiveUpdate)
        /// More than one batch was missed: the page reloads instead.
        case tooMuch
    }

    /// What was committed after `lastEventID` up to `position`, as one update.
    private func catchUp(after lastEventID: Int64, through position: Int64) async throws -> CatchUp {
        guard lastEventID < position else { return .nothing }
        return try await store.read { store in
            let messages = try await store.messages(after: lastEventID, filter: SessionFilter(), limit: LiveFeed.batch + 1)
                .filter { $0.id <= position }
            guard messages.count <= LiveFeed.batch else { return .tooMuch }
            var sessions: [SessionSummary] = []
            for id in Set(messages.map(\.sessionID)).sorted() { sessions.append(try await store.session(id)) }
            return .update(LiveUpdate(sequence: 0, position: position, sessions: sessions, messages: messages))
        }
    }

    static func event(_ name: String, id: Int64, data: String) -> String {
        "id: \(id)\nevent: \(name)\ndata: \(data)\n\n"
    }
}

/// Which events one watcher gets. Session fields are checked on each summary; a verb or reply-code
/// filter admits a session once one of its messages with that verb or code is seen.
struct EventSelection {
    let filter: SessionFilter
    let sessionID: Int64?
    private var admitted = Set<Int64>()

    init(filter: SessionFilter, sessionID: Int64?) {
        self.filter = filter
        self.sessionID = sessionID
    }

    mutating func events(_ update: LiveUpdate) -> String {
        var text = ""
        if let sessionID {
            for session in update.sessions where session.id == sessionID {
                text += EventStream.event("session", id: update.position, data: Self.json(SessionView(session)))
            }
            let started = update.sessions.first { $0.id == sessionID }?.startedMicros
            for message in update.messages where message.sessionID == sessionID {
                let view = MessageView(message, sessionStartedMicros: started ?? message.atMicros)
                text += EventStream.event("message", id: message.id, data: Self.json(view))
            }
            return text
        }
        for message in update.messages where matchesMessageFilters(message) { admitted.insert(message.sessionID) }
        for session in update.sessions where admits(session) {
            text += EventStream.event("session", id: update.position, data: Self.json(SessionView(session)))
        }
        return text
    }

    private func matchesMessageFilters(_ message: StoredMessage) -> Bool {
        if let verb = filter.verb, message.verb?.lowercased() != verb.lowercased() { return false }
        if let code = filter.replyCode, message.replyCode != code { return false }
        return filter.verb != nil || filter.replyCode != nil
    }

    private func admits(_ session: SessionSummary) -> Bool {
        if let since = filter.sinceMicros, session.startedMicros < since { return false }
        if let until = filter.untilMicros, session.startedMicros >= until { return false }
        if let host = filter.clientHost, session.clientHost != host { return false }
        if let port = filter.clientPort, session.clientPort != port { return false }
        if let kind = filter.kind, session.kind != kind.rawValue { return false }
        if let recorder = filter.recorder, session.recorder != recorder { return false }
        if let reason = filter.endReason, (session.endReason ?? SessionFilter.openReason) != reason { return false }
        return (filter.verb == nil && filter.replyCode == nil) || admitted.contains(session.id)
    }

    private static func json(_ value: some Encodable) -> String {
        (try? JSONOutput.line(value)) ?? "{}"
    }
}
