import NIOCore
import Recording

/// One protocol wirelog can cut into messages: a name (stored as the session's `decoding`), how to
/// recognise it from a client's first bytes, and a decoder per direction. Adding a protocol is one
/// type conforming to this plus one line in `WireProtocols.all`.
public protocol WireProtocol: Sendable {
    /// The `--decode` value and the session's stored `decoding`.
    static var name: String { get }
    /// True for line protocols whose last line may come without a terminator: a quiet period (or
    /// the other side speaking) completes it.
    static var completesOnQuiet: Bool { get }
    /// Whether a stream starting with `clientBytes` speaks this protocol (`--decode auto`).
    static func recognise(_ clientBytes: ByteBufferView) -> Recognition
    /// Whether a stream whose server spoke first, starting with `greeting`, speaks this protocol.
    static func recognise(greeting: ByteBufferView) -> Recognition
    /// Fresh decoders for one connection's two directions. They may share state (an HTTP response
    /// decoder must know which requests were HEAD), and are used on one thread.
    static func makeDecoders(limits: DecoderLimits) -> DecoderPair
    /// A recorded message as this protocol's users read it (`GET /users HTTP/1.1` and its headers,
    /// `SET greeting hello`, `Query: SELECT 1`), for `sessions show` and the web viewer; nil to show
    /// the bytes as they are. Text from the wire is returned as is: callers escape it.
    static func render(_ message: RenderInput) -> RenderedMessage?
}

extension WireProtocol {
    public static var completesOnQuiet: Bool { false }
    public static func recognise(_ clientBytes: ByteBufferView) -> Recognition { .no }
    public static func recognise(greeting: ByteBufferView) -> Recognition { .no }
    public static func render(_ message: RenderInput) -> RenderedMessage? { nil }
}

extension WireProtocol {
    /// A stored message as this protocol renders it; nil when the decoder did not read it (no
    /// fields, or a decode error), which is then shown as its bytes.
    public static func rendered(_ message: StoredMessage, previewBytes: Int) -> RenderedMessage? {
        guard message.decodeError == nil, !message.fields.isEmpty else { return nil }
        return render(RenderInput(sender: message.sender, raw: message.raw, fields: message.fields, previewBytes: previewBytes))
    }
}

/// What a renderer gets of a stored message.
public struct RenderInput {
    public var sender: Sender
    public var raw: [UInt8]
    public var fields: [MessageField]
    /// The most body bytes a preview should show.
    public var previewBytes: Int

    public init(sender: Sender, raw: [UInt8], fields: [MessageField], previewBytes: Int = 200) {
        self.sender = sender
        self.raw = raw
        self.fields = fields
        self.previewBytes = previewBytes
    }
}

/// A message as its protocol's users read it: one summary line and, below it, detail lines
/// (headers, a body preview). Unescaped.
public struct RenderedMessage: Equatable, Sendable {
    /// A short tag for the transcript's label column when the message has no verb or code
    /// (a RESP reply's type, say).
    public var label: String?
    public var summary: String
    public var details: [String]

    public init(label: String? = nil, summary: String, details: [String] = []) {
        self.label = label
        self.summary = summary
        self.details = details
    }
}

/// What a protocol says of a stream's first client bytes.
public enum Recognition: Sendable, Equatable {
    case yes, no
    /// Too few bytes to tell.
    case needMore
}

/// The decoders of one connection, one per direction.
public struct DecoderPair {
    public var client: any WireDecoder
    public var server: any WireDecoder

    public init(client: any WireDecoder, server: any WireDecoder) {
        self.client = client
        self.server = server
    }
}

/// Cuts one direction's byte stream into messages, in the manner of SwiftNIO's
/// `NIOSingleStepByteToMessageDecoder`: `decode` takes the next whole message off the front of
/// the buffer (moving its reader index past exactly that message's bytes) or returns nil to wait
/// for more; the result never depends on how the bytes were split into reads.
///
/// A decoder never throws and never drops a byte. Input it cannot parse is returned as a message
/// with `decodeError` set, and `MessageStream` records the rest of that direction raw. A message
/// too large to hold (an HTTP body, a RESP bulk string, a COPY stream) is handed out in pieces of at
/// most `DecoderLimits.maxMessageBytes` as it arrives, so memory stays bounded.
public protocol WireDecoder {
    mutating func decode(buffer: inout ByteBuffer) -> DecodedMessage?
    /// Nothing more is coming for now (`seenEOF` false: a quiet period passed, or the other side
    /// spoke) or ever (`seenEOF` true). Hands out what those terms complete, one message per call,
    /// and is called until it returns nil. Bytes left in the buffer after EOF are recorded raw as
    /// truncated, so a decoder need not return an incomplete message itself.
    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) -> DecodedMessage?
    /// True when `decodeLast(seenEOF: false)` would hand out a message the decoder holds outside
    /// the buffer (a lab 4xx status line waiting for its second line, say).
    var isHolding: Bool { get }
    /// The other side spoke: a message held for bytes that would complete it (a bare lab DATA
    /// waiting for its payload line) is whole as it is, since what came first is recorded first.
    mutating func release() -> DecodedMessage?
}

extension WireDecoder {
    public var isHolding: Bool { false }
    public mutating func release() -> DecodedMessage? { nil }
}

/// How big a decoder lets things grow before it records them in pieces or raw. Documented in
/// docs/PROTOCOLS.md; set with the proxy's `--max-line` and `--max-message`.
public struct DecoderLimits: Sendable, Equatable {
    /// The longest line kept whole (lab, lines; an HTTP start or header line, a RESP inline
    /// command or length line).
    public var maxLineLength: Int
    /// The largest message held whole: a longer body or bulk is recorded in pieces of this size.
    public var maxMessageBytes: Int
    /// The most bytes an HTTP head (start line and headers) may take; past it the rest of the
    /// direction is recorded raw with `decode_error`.
    public var maxHeaderBytes: Int

    public init(maxLineLength: Int = 64 * 1024, maxMessageBytes: Int = 1 << 20, maxHeaderBytes: Int = 64 * 1024) {
        self.maxLineLength = maxLineLength
        self.maxMessageBytes = maxMessageBytes
        self.maxHeaderBytes = maxHeaderBytes
    }

    /// Bytes a direction may hold without a message coming out: past this the stream is not
    /// the protocol it was taken for (or is hostile), and the rest is recorded raw.
    public var maxBufferedBytes: Int { max(maxLineLength, maxHeaderBytes) + maxMessageBytes }
}

/// How a decoded message takes part in an exchange (a request and its response).
public enum ExchangePart: Sendable, Equatable {
    /// Opens an exchange: an HTTP request, a RESP command, a PostgreSQL query or extended-query batch.
    case request(method: String?, target: String?)
    /// A response that does not end the exchange (HTTP 1xx).
    case interim
    /// Ends the oldest open exchange.
    case response(status: Int?, outcome: String?, error: String?)
}

/// One message cut from a stream: its exact bytes and what the decoder read in them.
public struct DecodedMessage {
    /// Exactly the message's bytes, a slice of the stream.
    public var raw: ByteBuffer
    /// The lab verb, HTTP method, RESP command or PostgreSQL message type: what `--verb` filters on.
    public var verb: String?
    /// Lab: where the DATA payload lies in `raw`.
    public var payloadRange: Range<Int>?
    /// Lab reply code, HTTP status.
    public var replyCode: Int?
    /// Everything else the protocol knows, in the order it reads best (docs/PROTOCOLS.md).
    public var fields: [MessageField]
    /// Why these bytes could not be decoded; the rest of the direction is then recorded raw.
    public var decodeError: String?
    public var exchange: ExchangePart?

    public init(raw: ByteBuffer, verb: String? = nil, payloadRange: Range<Int>? = nil, replyCode: Int? = nil,
                fields: [MessageField] = [], decodeError: String? = nil, exchange: ExchangePart? = nil) {
        self.raw = raw
        self.verb = verb
        self.payloadRange = payloadRange
        self.replyCode = replyCode
        self.fields = fields
        self.decodeError = decodeError
        self.exchange = exchange
    }
}
