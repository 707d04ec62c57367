import NIOCore
import Recording

/// Both directions of one conversation, decoded with one protocol: each direction's
/// `MessageStream`, the other side's held message completed when this side speaks (an
/// unterminated line is whole once the peer answers), each message stamped with the time its
/// first byte arrived, and responses paired with their requests (`ExchangePairer`). No I/O: the
/// proxy's tap feeds it reads as they come; fixtures and tests feed it turns.
public struct ConversationDecoder {
    /// Takes one message: its sender, the message, when its first byte arrived and, for a
    /// response, the exchange it completes. Returns the message's seq (for the pairing).
    public typealias Record = (_ sender: Sender, _ message: DecodedMessage, _ startedAtMicros: Int64, _ exchange: ExchangeLink?) -> Int64

    /// Each direction's stream; taken out while it runs (`run`), so recording may touch the rest.
    private var client: MessageStream?
    private var server: MessageStream?
    private var clientPendingSince: Int64 = 0
    private var serverPendingSince: Int64 = 0
    private var pairer = ExchangePairer()

    public init(_ wireProtocol: any WireProtocol.Type, limits: DecoderLimits) {
        let decoders = wireProtocol.makeDecoders(limits: limits)
        client = MessageStream(decoder: decoders.client, limits: limits)
        server = MessageStream(decoder: decoders.server, limits: limits)
    }

    /// Whether a quiet period (or the other side speaking) could complete a message of `sender`'s.
    public func hasPending(_ sender: Sender) -> Bool {
        (sender == .client ? client : server)?.hasPending == true
    }

    /// `sender`'s read, arrived at `micros`.
    public mutating func feed(_ bytes: ByteBuffer, from sender: Sender, at micros: Int64, _ record: Record) {
        // The other side's held message is complete now that this side speaks (for a line
        // protocol: its unterminated line; a bare lab DATA too): messages are recorded in the
        // order their bytes crossed the wire, whatever the decoding.
        run(.release, on: sender.other, at: micros, record)
        if (sender == .client ? client : server)?.pendingByteCount == 0 { setPendingSince(sender, micros) }
        run(.feed(bytes), on: sender, at: micros, record)
    }

    /// A quiet period passed on `sender`'s side: what it completes comes out.
    public mutating func flush(_ sender: Sender, at micros: Int64, _ record: Record) {
        run(.flush, on: sender, at: micros, record)
    }

    /// `sender` sends nothing more: everything it sent comes out.
    public mutating func finish(_ sender: Sender, at micros: Int64, _ record: Record) {
        run(.finish, on: sender, at: micros, record)
    }

    private enum Step {
        case feed(ByteBuffer), flush, release, finish
    }

    /// Runs `step` on `sender`'s stream, recording each message it cuts as it comes. The stream is
    /// taken out of `self` meanwhile, so recording may change the rest.
    private mutating func run(_ step: Step, on sender: Sender, at micros: Int64, _ record: Record) {
        guard var stream = sender == .client ? client.take() : server.take() else { return }
        switch step {
        case .feed(let bytes): stream.feed(bytes) { emit(sender, $0, at: micros, record) }
        case .flush: stream.flush { emit(sender, $0, at: micros, record) }
        case .release: stream.release { emit(sender, $0, at: micros, record) }
        case .finish: stream.finish { emit(sender, $0, at: micros, record) }
        }
        if sender == .client { client = stream } else { server = stream }
    }

    private mutating func emit(_ sender: Sender, _ message: DecodedMessage, at now: Int64, _ record: Record) {
        let startedAt = min(sender == .client ? clientPendingSince : serverPendingSince, now)
        // Bytes left after this message arrived with the read that completed it, at the latest.
        setPendingSince(sender, now)
        var link: ExchangeLink?
        if case .response = message.exchange { link = pairer.responseEnded(atMicros: now) }
        let seq = record(sender, message, startedAt, link)
        if case .request = message.exchange { pairer.requestStarted(seq: seq, atMicros: startedAt) }
    }

    private mutating func setPendingSince(_ sender: Sender, _ micros: Int64) {
        if sender == .client { clientPendingSince = micros } else { serverPendingSince = micros }
    }
}

extension SessionTape {
    /// Records a decoded message (a `ConversationDecoder.Record`): its exact bytes, stamped with
    /// the arrival of its first byte, with what the decoder read and the exchange it completes.
    @discardableResult
    public func record(_ sender: Sender, _ message: DecodedMessage, startedAt: Int64, exchange: ExchangeLink?) -> Int64 {
        record(sender, Array(message.raw.readableBytesView), at: startedAt, verb: message.verb, payloadRange: message.payloadRange,
               replyCode: message.replyCode, fields: message.fields, decodeError: message.decodeError, exchange: exchange)
    }
}
