import Recording

/// What the mock can say, built from recorded sessions alone (no network): each session cut into
/// turns (a client message and the server messages after it), the greeting a server-first
/// protocol sends on connect, and how each session ended.
public struct MockScript: Sendable {
    /// One server message to send again, with the stored id it came from.
    public struct Reply: Sendable, Equatable {
        public var raw: [UInt8]
        public var id: Int64
        /// Recorded time from the request (or the session start, for a greeting) to this message.
        public var delayMicros: Int64
        public var replyCode: Int?
    }

    /// A recorded client message and what the server sent after it, before the client's next one.
    public struct Turn: Sendable, Equatable {
        public var request: StoredMessage
        public var replies: [Reply]
        /// The server closed the connection after this turn (the session's last).
        public var closesAfter: Bool
    }

    public struct Session: Sendable, Equatable {
        public var id: Int64
        public var greeting: [Reply]
        public var turns: [Turn]
        /// The server closed before the client said anything (a banner, then a close).
        public var closesAfterGreeting: Bool
    }

    /// Oldest first.
    public let sessions: [Session]
    /// Every recorded request in session then wire order: what `--order any` picks from.
    public let turns: [Turn]
    /// The distinct request bytes, longest first: what client bytes are matched against.
    public let distinctRequests: [[UInt8]]
    /// For each distinct request, the indexes in `turns` of its recordings, in order.
    public let turnsByRequest: [[UInt8]: [Int]]
    /// The decoding the sessions share, else raw: the mock's own sessions are recorded with it.
    public let decoding: Decoding

    /// Throws `MockScriptError` when the sessions give nothing to answer with, or give a client
    /// that connects two different greetings under `--order any`.
    public init(_ recorded: [(summary: SessionSummary, messages: [StoredMessage])], order: MockOrder) throws(MockScriptError) {
        let sessions = recorded.map { Self.session($0.summary, $0.messages) }
        guard sessions.contains(where: { !$0.turns.isEmpty || !$0.greeting.isEmpty }) else {
            throw .nothingRecorded(sessions.map(\.id))
        }
        if order == .any {
            let greetings = sessions.filter { !$0.greeting.isEmpty }
            if let first = greetings.first,
               let other = greetings.first(where: { $0.greeting.map(\.raw) != first.greeting.map(\.raw) }) {
                throw .conflictingGreetings(first.id, other.id)
            }
        }
        self.sessions = sessions
        let turns = sessions.flatMap(\.turns)
        self.turns = turns
        turnsByRequest = Dictionary(grouping: turns.indices) { turns[$0].request.raw }
        distinctRequests = turnsByRequest.keys.sorted { $0.count > $1.count || ($0.count == $1.count && $0.lexicographicallyPrecedes($1)) }
        let decodings = Set(recorded.map(\.summary.decoding))
        decoding = decodings.count == 1 ? decodings.first.flatMap(Decoding.init(rawValue:)) ?? .raw : .raw
    }

    /// The greeting and close-before-speaking of `--order any`: the first session's that has one.
    public var anyOrderGreeting: Session? { sessions.first { !$0.greeting.isEmpty } }

    private static func session(_ summary: SessionSummary, _ messages: [StoredMessage]) -> Session {
        var greeting: [Reply] = []
        var turns: [Turn] = []
        for message in messages {
            switch message.sender {
            case .client:
                turns.append(Turn(request: message, replies: [], closesAfter: false))
            case .server:
                if let last = turns.indices.last {
                    turns[last].replies.append(Reply(raw: message.raw, id: message.id,
                                                     delayMicros: max(0, message.atMicros - turns[last].request.atMicros),
                                                     replyCode: message.replyCode))
                } else {
                    greeting.append(Reply(raw: message.raw, id: message.id,
                                          delayMicros: max(0, message.atMicros - summary.startedMicros), replyCode: message.replyCode))
                }
            }
        }
        let serverClosed: Bool
        switch summary.endReason.flatMap(EndReason.init(rawValue:)) {
        case .quit, .serverClosed, .lineTooLong: serverClosed = true
        default: serverClosed = false
        }
        if serverClosed, let last = turns.indices.last { turns[last].closesAfter = true }
        return Session(id: summary.id, greeting: greeting, turns: turns, closesAfterGreeting: serverClosed && turns.isEmpty)
    }
}

/// Which recorded exchange answers a client message.
public enum MockOrder: String, Sendable, CaseIterable {
    /// Any recorded exchange: the Nth identical request gets the Nth recorded reply.
    case any
    /// One recorded session turn by turn per connection (connection k follows session k mod n).
    case strict
}

public enum MockScriptError: Error, CustomStringConvertible, Equatable {
    case nothingRecorded([Int64])
    case conflictingGreetings(Int64, Int64)

    public var description: String {
        switch self {
        case .nothingRecorded(let ids):
            let list = ids.map(String.init).joined(separator: ", ")
            return "the chosen sessions (\(list)) hold no messages, so there is nothing to answer with; choose sessions that recorded a conversation"
        case .conflictingGreetings(let first, let second):
            return "sessions \(first) and \(second) start with different greetings from the server, and a client that connects can only get one; mock them separately, or with --order strict"
        }
    }
}
