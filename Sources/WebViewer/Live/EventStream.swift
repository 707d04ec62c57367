import Foundation
import HTTPTypes
import Hummingbird
import Recording
import ServiceLifecycle
import SessionFormats

/// `/api/events`: Server-Sent Events from the `LiveFeed`. A list page gets `session` events for
/// the sessions its filters admit; `?session=ID` gets that session's `session` and `message`
/// events. A browser that reconnects sends the last event id as Last-Event-ID and first gets what
/// it missed (or `reset` when that is not known). A list's event ids are feed positions; a
/// session's are its message ids (one recorder writes a session, so they grow in commit order on
/// every backend).
struct EventStream {
    let store: ViewerStore
    let feed: LiveFeed
    /// Most messages of one session sent to catch up; more is a `reset`.
    static let catchUpLimit = 2_000

    func add(to router: Router<BasicRequestContext>) {
        router.get("/api/events") { request, _ in try await events(request) }
    }

    private func events(_ request: Request) async throws -> Response {
        let filter = try request.sessionFilter()
        let sessionID = try request.id("session", of: "session")
        // The browser sends Last-Event-ID when it reconnects; the page passes it itself after a refusal.
        let lastEventID = request.headers[HTTPField.Name("Last-Event-ID")!].flatMap { $0.isEmpty ? nil : $0 } ?? request.query("last_event_id")
        var selection: EventSelection
        var start: String
        let updates: AsyncStream<LiveUpdate>
        if let sessionID {
            // An unknown session is a 404 now, not a stream that never says anything.
            _ = try await store.read { try await $0.session(sessionID) }
            let after = try lastEventID.map { text in
                guard let id = Int64(text), id >= 0 else { throw Self.badLastEventID(text, "a message id") }
                return id
            }
            let (position, _, stream) = try await feed.watch(since: nil, session: sessionID)
            updates = stream
            selection = EventSelection(sessionID: sessionID, at: position)
            start = try await catchUp(&selection, after: after) + Self.event("hello", data: "{}")
        } else {
            let since = try lastEventID.map { text in
                guard let position = FeedPosition(text) else { throw Self.badLastEventID(text, "a position this viewer sent, EPOCH-N") }
                return position
            }
            let (position, missed, stream) = try await feed.watch(since: since)
            updates = stream
            selection = EventSelection(filter: filter, at: position)
            start = lastEventID == nil ? "" : missed.map { selection.events($0, id: self.position(position)) } ?? reset(position)
            start += Self.event("hello", id: self.position(position), data: "{\"position\":\"\(self.position(position))\"}")
        }
        var headers: HTTPFields = [.contentType: "text/event-stream; charset=utf-8"]
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return Response(status: .ok, headers: headers, body: ResponseBody { [selection, start] writer in
            var selection = selection
            try await writer.write(ByteBuffer(string: start))
            var quiet = 0
            for await update in updates.cancelOnGracefulShutdown() {
                var events = if update.afterGap || update.sequence != selection.lastSequence + 1 {
                    // Updates were missed (dropped for this watcher, or not read by the feed).
                    ByteBuffer(string: try await recover(&selection, through: update))
                } else {
                    selection.events(update, id: position(update.sequence))
                }
                selection.lastSequence = update.sequence
                quiet = events.readableBytes == 0 ? quiet + 1 : 0
                // A comment now and then finds a closed connection and keeps proxies from timing out.
                if events.readableBytes == 0 && quiet % 30 == 0 { events = ByteBuffer(string: ": idle\n\n") }
                if events.readableBytes > 0 { try await writer.write(events) }
            }
            try await writer.finish(nil)
        })
    }

    private static func badLastEventID(_ text: String, _ expected: String) -> ViewerError {
        .badRequest("the last event id (Last-Event-ID or last_event_id) must be \(expected), not '\(text)'")
    }

    private func position(_ sequence: Int) -> String { FeedPosition(epoch: feed.epoch, sequence: sequence).text }

    private func reset(_ sequence: Int) -> String { Self.event("reset", id: position(sequence), data: "{}") }

    /// Events for what a watcher missed before `update`, and for `update` itself.
    private func recover(_ selection: inout EventSelection, through update: LiveUpdate) async throws -> String {
        if selection.sessionID != nil {
            guard let lastSent = selection.lastSent else { return Self.event("reset", data: "{}") }
            return try await catchUp(&selection, after: lastSent)
        }
        // The journal holds the update's changes and those dropped before it (a later update's too, perhaps: sent twice, harmless).
        let since = FeedPosition(epoch: feed.epoch, sequence: selection.lastSequence)
        guard !update.afterGap, let missed = await feed.changes(since: since) else { return reset(update.sequence) }
        return selection.events(missed, id: position(update.sequence))
    }

    /// The session as it is now and a session watcher's messages after `after` (its last event
    /// id) read from the store, a batch at a time as a messages page is; `reset` when that is more
    /// than `catchUpLimit` messages or shows more than a page's bytes (the page then reloads a page).
    private func catchUp(_ selection: inout EventSelection, after: Int64?) async throws -> String {
        guard let sessionID = selection.sessionID, let after else { return "" }
        var session: SessionSummary? = try await store.read { try await $0.session(sessionID) }
        selection.lastSent = after
        var text = "", position = after, count = 0, shownBytes = 0
        while true {
            let batch = try await store.read { [position] in
                try await $0.messages(ofSession: sessionID, after: position, limit: SessionsAPI.readBatch)
            }
            count += batch.count
            shownBytes += batch.reduce(0) { $0 + min($1.raw.count, MessageView.cutBytes) }
            guard count <= Self.catchUpLimit, shownBytes <= SessionsAPI.pageBytes else {
                selection.lastSent = nil
                return Self.event("reset", data: "{}")
            }
            text += selection.events(session: session, messages: batch)
            session = nil
            guard batch.count == SessionsAPI.readBatch, let last = batch.last else { return text }
            position = last.id
        }
    }

    /// One event; `id` (when given) is what the browser sends back as Last-Event-ID.
    static func event(_ name: String, id: String? = nil, data: String) -> String {
        (id.map { "id: \($0)\n" } ?? "") + "event: \(name)\ndata: \(data)\n\n"
    }
}

/// Which events one watcher gets. Session fields are checked on each summary; a verb or reply-code
/// filter admits a session once one of its messages with that verb or code is seen.
struct EventSelection {
    let filter: SessionFilter
    let sessionID: Int64?
    /// A session watcher's last message sent (its event id): later messages only, each once.
    /// nil until one is sent or a catch-up says where the page is.
    var lastSent: Int64?
    /// The last update of the feed seen.
    var lastSequence: Int
    private var admitted = Set<Int64>()

    init(filter: SessionFilter, at sequence: Int) {
        self.filter = filter
        sessionID = nil
        lastSequence = sequence
    }

    init(sessionID: Int64, at sequence: Int) {
        filter = SessionFilter()
        self.sessionID = sessionID
        lastSequence = sequence
    }

    /// The events of `update` for this watcher: a list without filters shares the feed's.
    mutating func events(_ update: LiveUpdate, id: String) -> ByteBuffer {
        guard let sessionID else {
            return filter == SessionFilter() ? update.everySession : ByteBuffer(string: events(update.changes, id: id))
        }
        let session = update.changes.first { $0.session.id == sessionID }?.session
        return ByteBuffer(string: events(session: session, messages: update.messages[sessionID] ?? []))
    }

    /// `session` events for the changes the filters admit (a list watcher).
    mutating func events(_ changes: [SessionChange], id: String) -> String {
        var text = ""
        for change in changes {
            if matchesMessageFilters(change) { admitted.insert(change.session.id) }
            guard admits(change.session) else { continue }
            text += EventStream.event("session", id: id, data: change.json)
        }
        return text
    }

    /// The session's `session` event and `message` events for its messages not sent yet (a session watcher).
    mutating func events(session: SessionSummary?, messages: [StoredMessage]) -> String {
        var text = ""
        if let session { text += EventStream.event("session", data: Self.json(SessionView(session))) }
        for message in messages where message.sessionID == sessionID {
            if let lastSent, message.id <= lastSent { continue }
            let view = MessageView(message, sessionStartedMicros: session?.startedMicros ?? message.atMicros, decoding: session?.decoding)
            text += EventStream.event("message", id: String(message.id), data: Self.json(view))
            lastSent = message.id
        }
        return text
    }

    /// Whether the filters look into messages (a session is admitted once its messages matched).
    private var hasMessageFilters: Bool {
        filter.verb != nil || filter.replyCode != nil || filter.replyCodeRange != nil || !filter.fields.isEmpty
            || filter.slowerThanMicros != nil
    }

    private func matchesMessageFilters(_ change: SessionChange) -> Bool {
        if let verb = filter.verb, !change.verbs.contains(verb.uppercased()) { return false }
        if let code = filter.replyCode, !change.codes.contains(code) { return false }
        if let range = filter.replyCodeRange, !change.codes.contains(where: range.contains) { return false }
        for match in filter.fields {
            guard let values = change.fieldValues[match.name], values.contains(where: match.comparison.admits) else { return false }
        }
        if let slowerThan = filter.slowerThanMicros, change.slowestExchangeMicros <= slowerThan { return false }
        return hasMessageFilters
    }

    private func admits(_ session: SessionSummary) -> Bool {
        if let since = filter.sinceMicros, session.startedMicros < since { return false }
        if let until = filter.untilMicros, session.startedMicros >= until { return false }
        if let host = filter.clientHost, session.clientHost != host { return false }
        if let port = filter.clientPort, session.clientPort != port { return false }
        if let kind = filter.kind, session.kind != kind.rawValue { return false }
        if let recorder = filter.recorder, session.recorder != recorder { return false }
        if let reason = filter.endReason, (session.endReason ?? SessionFilter.openReason) != reason { return false }
        if let decoding = filter.decoding, session.decoding != decoding { return false }
        return !hasMessageFilters || admitted.contains(session.id)
    }

    static func json(_ value: some Encodable) -> String {
        (try? JSONOutput.line(value)) ?? "{}"
    }
}
