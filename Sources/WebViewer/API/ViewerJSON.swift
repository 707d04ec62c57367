import Foundation
import Hummingbird
import LabProtocol
import Presentation
import Protocols
import Recording
import SessionFormats

/// A session as the API sends it: the export's `SessionJSON` plus the texts the CLI would print
/// (start with its zone, duration, addresses, recorder and TLS escaped), so the page words things
/// as the CLI does.
struct SessionView: Encodable {
    let session: SessionJSON
    let startedText: String
    let durationText: String
    let clientText: String
    let serverText: String
    /// The recorder's name as `sessions list` prints it: `--recorder-name` may hold ESC or a bidi override.
    let recorderText: String
    /// `sessions show`'s TLS lines (`TLS client ↔ wirelog: TLSv1.3 …`), none without TLS.
    let tlsText: [String]
    /// `sessions show`'s fault lines (`fault +0.001s  rst (…) upstream: …`), none without faults.
    let faultText: [String]

    init(_ summary: SessionSummary) {
        session = SessionJSON(summary)
        startedText = RelativeTime.localTimestamp(summary.startedMicros, fractionDigits: 3)
        durationText = summary.endedMicros.map { DurationText.micros($0 - summary.startedMicros) } ?? "-"
        clientText = EndpointText.of(summary.clientHost, summary.clientPort)
        serverText = EndpointText.of(summary.serverHost, summary.serverPort)
        recorderText = Escaping.escape(Array(summary.recorder.utf8))
        tlsText = TLSText.lines(summary.tls)
        faultText = FaultText.lines(summary)
    }

    private enum CodingKeys: String, CodingKey { case startedText, durationText, clientText, serverText, recorderText, tlsText, faultText }

    func encode(to encoder: any Encoder) throws {
        try session.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(startedText, forKey: .startedText)
        try container.encode(durationText, forKey: .durationText)
        try container.encode(clientText, forKey: .clientText)
        try container.encode(serverText, forKey: .serverText)
        try container.encode(recorderText, forKey: .recorderText)
        try container.encode(tlsText, forKey: .tlsText)
        try container.encode(faultText, forKey: .faultText)
    }
}

/// A message as the API sends it: the export's `MessageJSON` plus its id, the CLI's label, the
/// bytes escaped exactly as `sessions show` prints them, and the `--hex` dump lines; in a decoded
/// session also the message as `sessions show` renders it and its exchange's duration. A long
/// message is cut at `cutBytes`, its base64 `raw` and `payload` too, so a page's answer does not
/// grow with its messages (`cut` is true; `/api/sessions/ID/messages/MID` has it whole).
struct MessageView: Encodable {
    static let cutBytes = 4_096

    let message: MessageJSON
    let id: Int64
    let label: String
    let size: Int
    let cut: Bool
    let text: String
    let hex: [String]
    let payloadText: String?
    /// Since the session start, and the wall-clock time with its zone, as `sessions show` prints them.
    let offsetText: String
    let atText: String
    /// The session protocol's rendering, escaped as `sessions show` prints it; nil when the
    /// message was not decoded.
    let rendered: RenderedView?
    /// On a response: how long its exchange took.
    let durationText: String?

    /// `decoding`: the session's, to render the message by its protocol.
    init(_ stored: StoredMessage, sessionStartedMicros: Int64, decoding: String?, whole: Bool = false) {
        let byteLimit = whole ? Int.max : Self.cutBytes
        message = MessageJSON(stored, sessionStartedMicros: sessionStartedMicros, byteLimit: byteLimit)
        id = stored.id
        label = stored.label
        size = stored.raw.count
        cut = stored.raw.count > byteLimit
        let shown = stored.raw.prefix(byteLimit)
        text = stored.escapedMarkingRedactions(upTo: shown.count)
        hex = HexDump.lines(Array(shown))
        payloadText = stored.payload.map { Escaping.escape($0.prefix(byteLimit)) }
        offsetText = RelativeTime.offset(stored.atMicros - sessionStartedMicros)
        atText = RelativeTime.localTimestamp(stored.atMicros, fractionDigits: 6)
        rendered = decoding.flatMap(WireProtocols.named)?.rendered(stored, previewBytes: Self.cutBytes).map {
            RenderedView(label: $0.label ?? stored.label, summary: Escaping.escape(Array($0.summary.utf8)),
                         details: $0.details.map { Escaping.escape(Array($0.utf8)) })
        }
        durationText = stored.exchange.map { DurationText.micros($0.durationMicros) }
    }

    private enum CodingKeys: String, CodingKey {
        case id, label, size, cut, text, hex, payloadText, offsetText, atText, rendered, durationText
    }

    func encode(to encoder: any Encoder) throws {
        try message.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(label, forKey: .label)
        try container.encode(size, forKey: .size)
        try container.encode(cut, forKey: .cut)
        try container.encode(text, forKey: .text)
        try container.encode(hex, forKey: .hex)
        try container.encodeIfPresent(payloadText, forKey: .payloadText)
        try container.encode(offsetText, forKey: .offsetText)
        try container.encode(atText, forKey: .atText)
        try container.encodeIfPresent(rendered, forKey: .rendered)
        try container.encodeIfPresent(durationText, forKey: .durationText)
    }
}

/// A decoded message as its protocol's users read it: the label column, the summary line and the
/// detail lines below it (headers, a body preview), each escaped.
struct RenderedView: Encodable {
    let label: String
    let summary: String
    let details: [String]
}

struct SessionPage: Encodable {
    let sessions: [SessionView]
    /// Pass as `before` for the next page; nil on the last page.
    let next: String?
}

struct MessagePage: Encodable {
    let session: SessionView
    let messages: [MessageView]
    /// The exchanges of the messages this page covers (both directions, whatever `sender` shows).
    let exchanges: [ExchangeRow]
    /// Pass as `after` for the next page; nil on the last page.
    let next: Int64?
}

extension Response {
    /// `value` as JSON in the export's style (snake_case keys, sorted, bytes base64).
    static func json(_ value: some Encodable) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: try JSONOutput.line(value))))
    }
}
