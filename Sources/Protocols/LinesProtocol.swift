import NIOCore

/// `lines`: each LF-terminated line a message, in both directions; a longer line than the limit is
/// recorded in pieces, and an unterminated one once a quiet period passes.
public enum LinesProtocol: WireProtocol {
    public static let name = "lines"
    public static let completesOnQuiet = true

    public static func makeDecoders(limits: DecoderLimits) -> DecoderPair {
        DecoderPair(client: LineDecoder(limits: limits), server: LineDecoder(limits: limits))
    }
}

struct LineDecoder: WireDecoder {
    private var cutter: LineCutter

    init(limits: DecoderLimits) {
        cutter = LineCutter(maxLineLength: limits.maxLineLength)
    }

    mutating func decode(buffer: inout ByteBuffer) -> DecodedMessage? {
        cutter.next(&buffer).map { DecodedMessage(raw: $0.line) }
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) -> DecodedMessage? {
        decode(buffer: &buffer) ?? cutter.rest(&buffer).map { DecodedMessage(raw: $0) }
    }
}
