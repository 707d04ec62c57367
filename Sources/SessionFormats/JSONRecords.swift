import Foundation
import Presentation
import Recording

/// The JSON shapes of sessions and messages (keys in snake_case, bytes base64, times both as
/// µs since the epoch and ISO 8601 UTC). docs/QUERY.md describes them.
public struct SessionJSON: Encodable {
    var type = "session"
    var id: Int64
    var kind: String
    var decoding: String
    var recorder: String
    var client: EndpointJSON
    var server: EndpointJSON
    var startedUs: Int64
    var started: String
    var endedUs: Int64?
    var ended: String?
    var endReason: String?
    var bytesFromClient: Int64
    var bytesFromServer: Int64
    var messageCount: Int64
    var replayOf: Int64?
    /// With TLS: `client` and `server` legs as stored (TLSDetails), keys in camelCase → snake_case.
    var tls: TLSDetails?
    /// What toxics did to it, in order (docs/FAULTS.md); absent when none did.
    var faults: [FaultRecord]?
    var messages: [MessageJSON]?

    public init(_ session: SessionSummary, messages: [MessageJSON]? = nil) {
        id = session.id
        kind = session.kind
        decoding = session.decoding
        recorder = session.recorder
        client = EndpointJSON(host: session.clientHost, port: session.clientPort)
        server = EndpointJSON(host: session.serverHost, port: session.serverPort)
        startedUs = session.startedMicros
        started = RelativeTime.isoUTC(session.startedMicros)
        endedUs = session.endedMicros
        ended = session.endedMicros.map(RelativeTime.isoUTC)
        endReason = session.endReason
        bytesFromClient = session.bytesFromClient
        bytesFromServer = session.bytesFromServer
        messageCount = session.messageCount
        replayOf = session.replayOf
        tls = session.tls
        faults = session.faults.isEmpty ? nil : session.faults
        self.messages = messages
    }
}

public struct EndpointJSON: Encodable {
    var host: String
    var port: Int
}

public struct MessageJSON: Encodable {
    var type = "message"
    var session: Int64
    var seq: Int64
    var atUs: Int64
    /// Microseconds since the session started.
    var offsetUs: Int64
    var sender: String
    /// The exact bytes, base64, except where `redactions` hold tokens.
    var raw: Data
    var verb: String?
    var payload: Data?
    var replyCode: Int?
    /// In a mock session: the id of the recorded message this one stands for.
    var answeredBy: Int64?
    /// Present when a redaction rule hid secrets: the length on the wire, and each span.
    var originalLength: Int?
    var redactions: [RedactionJSON]?
    /// What the session's protocol decoder read in it (docs/PROTOCOLS.md), or why it could not.
    var fields: FieldsJSON?
    var decodeError: String?
    /// On a response: the request it answers and how long the exchange took.
    var exchange: ExchangeJSON?

    /// `byteLimit`: `raw` and `payload` stop after that many bytes (the web viewer's pages show
    /// a message's start; the exports carry it whole).
    public init(_ message: StoredMessage, sessionStartedMicros: Int64, byteLimit: Int = .max) {
        session = message.sessionID
        seq = message.seq
        atUs = message.atMicros
        offsetUs = message.atMicros - sessionStartedMicros
        sender = message.sender.rawValue
        raw = Data(message.raw.prefix(byteLimit))
        verb = message.verb
        payload = message.payload.map { Data($0.prefix(byteLimit)) }
        replyCode = message.replyCode
        answeredBy = message.answeredBy
        if !message.redactions.isEmpty {
            originalLength = message.originalLength
            redactions = message.redactions.map(RedactionJSON.init)
        }
        fields = message.fields.isEmpty ? nil : FieldsJSON(fields: message.fields)
        decodeError = message.decodeError
        exchange = message.exchange.map { ExchangeJSON(requestSeq: $0.requestSeq, durationUs: $0.durationMicros) }
    }
}

/// A message's decoded fields as one JSON object, in the decoder's order.
public struct FieldsJSON: Encodable {
    let fields: [MessageField]

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        var seen = Set<String>()
        for field in fields where seen.insert(field.name).inserted {
            switch field.value {
            case .text(let text): try container.encode(text, forKey: Key(stringValue: field.name))
            case .integer(let value): try container.encode(value, forKey: Key(stringValue: field.name))
            case .bool(let value): try container.encode(value, forKey: Key(stringValue: field.name))
            }
        }
    }
}

public struct ExchangeJSON: Encodable {
    var requestSeq: Int64
    var durationUs: Int64
}

/// A redacted span: where its token stands in `raw`, how many bytes it hid, which rule hid them.
public struct RedactionJSON: Encodable {
    var offset: Int
    var length: Int
    var rule: String

    init(_ span: RedactedSpan) {
        offset = span.offset
        length = span.length
        rule = span.rule
    }
}

public enum JSONOutput {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dataEncodingStrategy = .base64
        return encoder
    }()

    /// One value as one line of JSON (NDJSON when called per record).
    public static func line(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
