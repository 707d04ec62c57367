import NIOCore
import Recording
import Replay

/// What the mock can say, built from recorded sessions alone (no network): each session cut into
/// turns (a client message and the server messages after it), the greeting a server-first
/// protocol sends on connect, and how each session ended.
public struct MockScript: Sendable {
    /// One server message to send again, with the stored id it came from.
    public struct Reply: Sendable, Equatable {
        public var raw: [UInt8] { didSet { buffer = ByteBuffer(bytes: raw) } }
        /// `raw`, made once: every answer writes this buffer (no copy per reply).
        public private(set) var buffer: ByteBuffer
        public var id: Int64
        /// Recorded time from the request (or the session start, for a greeting) to this message.
        public var delayMicros: Int64
        public var replyCode: Int?

        public init(raw: [UInt8], id: Int64, delayMicros: Int64, replyCode: Int?) {
            self.raw = raw
            buffer = ByteBuffer(bytes: raw)
            self.id = id
            self.delayMicros = delayMicros
            self.replyCode = replyCode
        }
    }

    /// A recorded client message and what the server sent after it, before the client's next one.
    public struct Turn: Sendable, Equatable {
        public var request: StoredMessage {
            didSet { requestPayloadRange = request.recorded.payloadRange }
        }
        /// Where the recorded request's payload is in its bytes (found once, not per answer).
        public private(set) var requestPayloadRange: Range<Int>?
        public var replies: [Reply]
        /// How the recorded session ended when the server closed it after this turn (its last).
        public var closesWith: EndReason?

        public init(request: StoredMessage, replies: [Reply], closesWith: EndReason?) {
            self.request = request
            requestPayloadRange = request.recorded.payloadRange
            self.replies = replies
            self.closesWith = closesWith
        }
    }

    public struct Session: Sendable, Equatable {
        public var id: Int64
        public var greeting: [Reply]
        public var turns: [Turn]
        /// How the recorded session ended when the server closed it before the client said anything.
        public var closesAfterGreeting: EndReason?
    }

    /// Oldest first.
    public let sessions: [Session]
    /// Every recorded request in session then wire order: what `--order any` picks from.
    public let turns: [Turn]
    /// The distinct request bytes, longest first: what client bytes are matched against.
    public let distinctRequests: [[UInt8]]
    /// For each of `distinctRequests` (same index), the indexes in `turns` of its recordings, in order.
    public let turnsOfDistinctRequest: [[Int]]
    /// The decoding the sessions that said anything share, else raw: the mock's own sessions are
    /// recorded with it. A connection that closed without a byte (a port probe) was never decoded:
    /// it says nothing of the protocol.
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
        let turnsByRequest = Dictionary(grouping: turns.indices) { turns[$0].request.raw }
        distinctRequests = turnsByRequest.keys.sorted { $0.count > $1.count || ($0.count == $1.count && $0.lexicographicallyPrecedes($1)) }
        turnsOfDistinctRequest = distinctRequests.map { turnsByRequest[$0] ?? [] }
        let decodings = Set(recorded.filter { !$0.messages.isEmpty }.map(\.summary.decoding))
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
                turns.append(Turn(request: message, replies: [], closesWith: nil))
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
        var serverClose: EndReason?
        switch summary.endReason.flatMap(EndReason.init(rawValue:)) {
        case let reason? where [.quit, .serverClosed, .lineTooLong].contains(reason): serverClose = reason
        default: serverClose = nil
        }
        if let last = turns.indices.last { turns[last].closesWith = serverClose }
        return Session(id: summary.id, greeting: greeting, turns: turns, closesAfterGreeting: turns.isEmpty ? serverClose : nil)
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

extension MockScript {
    /// Reads the sessions `selection` names from `store` (oldest first when chosen by filters)
    /// and builds the script. Sessions recorded by a mock are left out unless named by id or
    /// `--kind mock`: they only repeat what they answered. Throws `SelectionError` or `MockScriptError`.
    public static func load(_ selection: SessionSelection, from store: any RecordingStore, order: MockOrder) async throws -> MockScript {
        var recorded: [(summary: SessionSummary, messages: [StoredMessage])] = []
        for id in try await selection.resolve(in: store) {
            let summary = try await store.session(id)
            if summary.kind == SessionKind.mock.rawValue && selection.ids.isEmpty && selection.filter.kind != .mock { continue }
            recorded.append((summary, try await store.messages(ofSession: id)))
        }
        guard !recorded.isEmpty else { throw SelectionError.nothingMatches }
        return try MockScript(recorded, order: order)
    }
}
