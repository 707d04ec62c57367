import LabProtocol
import Presentation
import Recording

/// A row of a decoded session's exchanges table: a request and the response that completed it,
/// worded from their decoded fields (docs/PROTOCOLS.md) and escaped as `sessions show` prints.
/// A page's rows come from the messages it covers; an exchange split over two pages comes as a
/// row with only its request on the first and one with only its response on the next, and the
/// page joins them by `request_seq`.
struct ExchangeRow: Encodable {
    /// Characters of a target, key or statement shown before `…`.
    static let targetCharacters = 120

    struct Request: Encodable {
        /// The request message's id: the row links to it.
        let id: Int64
        /// The HTTP method, RESP command or SQL statement's first keyword.
        let kind: String
        /// The HTTP target, RESP key or SQL statement, cut.
        let target: String?
    }

    struct Response: Encodable {
        let id: Int64
        /// The HTTP status, RESP reply type or PostgreSQL command tag.
        let outcome: String?
        /// The SQLSTATE of a PostgreSQL error, the first word of a RESP error.
        let error: String?
        let durationUs: Int64
        let durationText: String
    }

    let requestSeq: Int64
    var request: Request?
    var response: Response?

    /// The exchanges of `messages` (a request, a response or both), in request order.
    static func rows(_ messages: some Sequence<StoredMessage>) -> [ExchangeRow] {
        joined(messages.compactMap(ExchangeRow.init(half:)))
    }

    /// `rows` with the two parts of each exchange made one row.
    static func joined(_ rows: [ExchangeRow]) -> [ExchangeRow] {
        var bySeq: [Int64: ExchangeRow] = [:]
        for part in rows {
            var row = bySeq[part.requestSeq] ?? part
            row.request = row.request ?? part.request
            row.response = row.response ?? part.response
            bySeq[part.requestSeq] = row
        }
        return bySeq.values.sorted { $0.requestSeq < $1.requestSeq }
    }

    /// The part of a row `message` gives: a response completes the exchange its link names; a
    /// decoded client message with a method, command or statement opens one.
    private init?(half message: StoredMessage) {
        let fields = message.fields
        if let link = message.exchange {
            requestSeq = link.requestSeq
            response = Response(id: message.id, outcome: ExchangeGrouping.outcome(of: fields).map(Self.escaped),
                                error: ExchangeGrouping.error(of: fields).map(Self.escaped),
                                durationUs: link.durationMicros, durationText: DurationText.micros(link.durationMicros))
            return
        }
        guard message.sender == .client, message.decodeError == nil,
              let asked = ExchangeGrouping.request(of: fields, verb: message.verb) else { return nil }
        requestSeq = message.seq
        request = Request(id: message.id, kind: Self.escaped(asked.kind), target: asked.target.map(Self.cut))
    }

    private static func escaped(_ text: String) -> String { Escaping.escape(Array(text.utf8)) }

    private static func cut(_ text: String) -> String {
        text.count > targetCharacters ? escaped(String(text.prefix(targetCharacters))) + "…" : escaped(text)
    }
}
