import NIOCore
import Protocols
import Recording
import Testing

/// A decoded message as tests compare it: bytes as text, every decoded fact.
struct Cut: Equatable, CustomStringConvertible {
    var raw: [UInt8]
    var verb: String? = nil
    var payload: [UInt8]? = nil
    var code: Int? = nil
    var fields: [MessageField] = []
    var error: String? = nil
    var exchange: ExchangePart? = nil

    init(_ message: DecodedMessage) {
        raw = Array(message.raw.readableBytesView)
        verb = message.verb
        payload = message.payloadRange.map { Array(raw[$0]) }
        code = message.replyCode
        fields = message.fields
        error = message.decodeError
        exchange = message.exchange
    }

    var text: String { String(decoding: raw, as: UTF8.self) }

    var description: String {
        "Cut(\(text.debugDescription), verb: \(verb ?? "-"), code: \(code.map(String.init) ?? "-"), fields: \(fields.map { "\($0.name)=\($0.value)" }), error: \(error ?? "-"), exchange: \(exchange.map { "\($0)" } ?? "-"))"
    }
}

/// Runs a protocol's decoders the way the proxy does, through `MessageStream`.
struct DecoderHarness {
    let proto: any WireProtocol.Type
    var limits = DecoderLimits()

    /// One direction fed in `chunks`, then ended; every message in order.
    func decode(_ chunks: [[UInt8]], _ side: Sender, flushAfterEachChunk: Bool = false) -> [Cut] {
        let pair = proto.makeDecoders(limits: limits)
        var stream = MessageStream(decoder: side == .client ? pair.client : pair.server, limits: limits)
        var cuts: [Cut] = []
        for chunk in chunks {
            stream.feed(ByteBuffer(bytes: chunk)) { cuts.append(Cut($0)) }
            if flushAfterEachChunk { stream.flush { cuts.append(Cut($0)) } }
        }
        stream.finish { cuts.append(Cut($0)) }
        return cuts
    }

    func decode(_ text: String, _ side: Sender) -> [Cut] { decode([Array(text.utf8)], side) }

    /// Both directions of a conversation, in the order the turns crossed the wire (each turn fed
    /// as one read, the other side flushed first as the proxy does); every message in wire order.
    func conversation(_ turns: [(Sender, [UInt8])]) -> [(Sender, Cut)] {
        var decoder = ConversationDecoder(proto, limits: limits)
        var cuts: [(Sender, Cut)] = []
        let record: ConversationDecoder.Record = { sender, message, _, _ in
            cuts.append((sender, Cut(message)))
            return Int64(cuts.count)
        }
        for (side, bytes) in turns { decoder.feed(ByteBuffer(bytes: bytes), from: side, at: 0, record) }
        decoder.finish(.client, at: 0, record)
        decoder.finish(.server, at: 0, record)
        return cuts
    }

    /// The re-split property: `corpus` cut into two reads at every byte boundary, and fed a byte
    /// at a time, gives the same messages as fed whole; and the messages' bytes concatenate to
    /// the corpus. Returns the messages of the whole feed.
    @discardableResult
    func expectResplitInvariant(_ corpus: [UInt8], _ side: Sender,
                                sourceLocation: SourceLocation = #_sourceLocation) -> [Cut] {
        let whole = decode([corpus], side)
        #expect(whole.flatMap(\.raw) == corpus, "messages concatenate to the input", sourceLocation: sourceLocation)
        for cut in 0...corpus.count {
            let split = decode([Array(corpus[..<cut]), Array(corpus[cut...])], side)
            if split != whole {
                Issue.record("split at byte \(cut) of \(corpus.count) differs: \(split) vs \(whole)", sourceLocation: sourceLocation)
                return whole
            }
        }
        let bytewise = decode(corpus.map { [$0] }, side)
        #expect(bytewise == whole, "fed a byte at a time", sourceLocation: sourceLocation)
        return whole
    }

    /// Random bytes, and the corpus with random bytes changed, must never crash and never lose a
    /// byte; bounded by `iterations`.
    func expectSurvivesGarbage(seedCorpus: [[UInt8]], _ side: Sender, iterations: Int = 300,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        var rng = SplitMix64(seed: 0x5EED)
        for i in 0..<iterations {
            var input: [UInt8]
            if seedCorpus.isEmpty || i % 3 == 0 {
                input = (0..<Int(rng.next() % 600)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                input = seedCorpus[Int(rng.next() % UInt64(seedCorpus.count))]
                for _ in 0..<(1 + Int(rng.next() % 4)) where !input.isEmpty {
                    input[Int(rng.next() % UInt64(input.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            let chunkSize = 1 + Int(rng.next() % 64)
            let chunks = stride(from: 0, to: input.count, by: chunkSize).map { Array(input[$0..<min($0 + chunkSize, input.count)]) }
            let out = decode(chunks, side)
            if out.flatMap(\.raw) != input {
                Issue.record("garbage input \(i) lost or changed bytes", sourceLocation: sourceLocation)
                return
            }
        }
    }
}

/// A small deterministic generator, so a failing fuzz case is the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Array where Element == UInt8 {
    init(_ text: String) { self = Array(text.utf8) }
}
