import NIOCore

/// `raw`: the bytes as they came, one message per read (the proxy groups a read burst into one).
public enum RawProtocol: WireProtocol {
    public static let name = "raw"

    public static func makeDecoders(limits: DecoderLimits) -> DecoderPair {
        DecoderPair(client: RawDecoder(), server: RawDecoder())
    }
}

struct RawDecoder: WireDecoder {
    mutating func decode(buffer: inout ByteBuffer) -> DecodedMessage? {
        guard buffer.readableBytes > 0 else { return nil }
        return DecodedMessage(raw: buffer.readSlice(length: buffer.readableBytes)!)
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) -> DecodedMessage? {
        decode(buffer: &buffer)
    }
}
