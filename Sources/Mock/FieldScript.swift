import NIOConcurrencyHelpers
import Protocols
import Recording
import Replay

/// The recorded requests of HTTP, RESP or PostgreSQL sessions known by what they ask
/// (`MessageShape`) rather than by their bytes: an HTTP request by method, path, query and body,
/// a RESP command by its words, a PostgreSQL turn by its statements and parameters. Built once,
/// from every chosen session (pooled: any connection may be answered from any session).
public struct FieldScript: Sendable {
    /// One distinct request, as matched.
    public struct Entry: Sendable {
        public var shape: MessageShape
        /// Its recordings, in recorded order: each the request and what answered it.
        public var answers: [MockScript.Turn]
    }

    public let protocolName: String
    public let rules: MatchRules
    /// In first-recorded order.
    public let entries: [Entry]
    private let entryOfKey: [String: Int]
    /// PostgreSQL: the ParameterStatus and BackendKeyData messages the first recorded login ended
    /// with (the mock performs each login itself and sends them).
    public let postgresLoginMessages: [UInt8]

    /// Nil when the sessions do not share one of `protocolNames`.
    public init?(_ script: MockScript, rules: MatchRules) {
        guard MessageShape.protocolNames.contains(script.decoding.rawValue) else { return nil }
        protocolName = script.decoding.rawValue
        self.rules = rules
        var entries: [Entry] = []
        var entryOfKey: [String: Int] = [:]
        var login: [UInt8]?
        for session in script.sessions {
            var statements = PostgresStatements()
            var turns = session.turns[...]
            while var turn = turns.popFirst() {
                if protocolName == PostgresProtocol.name, login == nil, turn.request.verb == "StartupMessage" {
                    login = PostgresWire.loginMessages(in: session.turns.flatMap(\.replies))
                }
                guard var shape = Self.shape(of: turn.request, protocolName: protocolName, statements: &statements) else { continue }
                // The rest of an HTTP request recorded in pieces (a body past --max-message, or sent
                // after the head for Expect: 100-continue) belongs to it, and so does what answered it.
                let awaitsBody = protocolName == HTTP1Protocol.name && HTTPExpectation.awaitsBody(shape)
                var firstPiece: [UInt8]?
                while protocolName == HTTP1Protocol.name, let piece = turns.first, piece.request.fields[field: "continuation"] != nil {
                    turns.removeFirst()
                    if firstPiece == nil { firstPiece = piece.request.raw }
                    turn.replies += piece.replies
                    turn.closesWith = piece.closesWith
                }
                if awaitsBody, let firstPiece {
                    // Matched with its body, answered by the final response: the mock says 100 Continue itself.
                    shape = MessageShape.httpRequest(turn.request.raw + firstPiece) ?? shape
                    turn.replies.removeAll { $0.replyCode == 100 }
                }
                let key = shape.matchKey(rules)
                if let entry = entryOfKey[key] {
                    entries[entry].answers.append(turn)
                } else {
                    entryOfKey[key] = entries.count
                    entries.append(Entry(shape: shape, answers: [turn]))
                }
            }
        }
        self.entries = entries
        self.entryOfKey = entryOfKey
        postgresLoginMessages = login ?? PostgresWire.defaultLoginMessages
    }

    /// The shape of a recorded request; nil for what is not matched by field (a piece of a
    /// larger message, undecodable bytes, a PostgreSQL login, which the mock performs itself).
    static func shape(of request: StoredMessage, protocolName: String, statements: inout PostgresStatements) -> MessageShape? {
        guard request.decodeError == nil, request.fields[field: "continuation"] == nil else { return nil }
        let isPostgresLogin = protocolName != HTTP1Protocol.name && protocolName != RESPProtocol.name
            && PostgresWire.isLoginVerb(request.verb)
        guard !isPostgresLogin else { return nil }
        return .request(request.raw, protocolName: protocolName, statements: &statements)
    }

    public func entry(forKey key: String) -> Int? { entryOfKey[key] }

    /// The recorded request closest to `shape` (fewest differing fields, then the first
    /// recorded) and what differs; nil when nothing was recorded.
    public func closest(to shape: MessageShape) -> (entry: Entry, differences: [FieldDifference])? {
        var best: (entry: Entry, differences: [FieldDifference], score: Int)?
        for entry in entries {
            let differences = entry.shape.differences(from: shape, rules: rules, includeHeaders: false)
            // What was asked for counts most: a request for the same method and path is closer than
            // one that differs there and agrees on a parameter.
            let score = differences.reduce(0) { total, difference in
                total + (["method", "path", "command", "statement"].contains(difference.name) ? 100 : 1)
            }
            if best.map({ score < $0.score }) ?? true { best = (entry, differences, score) }
        }
        return best.map { ($0.entry, $0.differences) }
    }
}

/// How many times each distinct request was answered, shared by every connection of one mock
/// (sessions are pooled: an HTTP client opens new connections freely, and its third request gets
/// the third recorded answer whichever connection it came on).
public final class FieldAnswers: Sendable {
    private let counts: NIOLockedValueBox<[Int]>

    public init(entryCount: Int) {
        counts = NIOLockedValueBox(Array(repeating: 0, count: entryCount))
    }

    /// Which recording of `entry` answers now (0-based), counting it; past the last one, the
    /// last again (`repeat`) or nil (`miss`).
    public func take(_ entry: Int, recordings: Int, whenExhausted: WhenExhausted) -> Int? {
        counts.withLockedValue { counts in
            let count = counts[entry]
            if count >= recordings && whenExhausted == .miss { return nil }
            counts[entry] = count + 1
            return min(count, recordings - 1)
        }
    }
}

/// What a request gets once each of its recorded answers was given.
public enum WhenExhausted: String, Sendable, CaseIterable {
    /// The last recorded answer again.
    case `repeat`
    /// A miss.
    case miss
}

/// The field matching one mock shares between its connections: what was recorded and how often
/// each request was answered.
struct FieldMatching: Sendable {
    let script: FieldScript
    let answers: FieldAnswers

    init(script: FieldScript) {
        self.script = script
        answers = FieldAnswers(entryCount: script.entries.count)
    }
}

/// HTTP's `Expect: 100-continue`: the client sends the head, waits for `100 Continue`, then sends
/// the body (which the decoder cuts as a continuation of the head).
enum HTTPExpectation {
    /// Whether this request head was sent alone and its body follows.
    static func awaitsBody(_ shape: MessageShape) -> Bool {
        guard shape["header expect"]?.lowercased() == "100-continue", shape["method"] != nil else { return false }
        let chunked = shape["header transfer-encoding"]?.lowercased().hasSuffix("chunked") == true
        return chunked || (shape["header content-length"].flatMap { Int($0) } ?? 0) > 0
    }

    static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
}
