import NIOCore

/// Drives one direction's `WireDecoder`: keeps the bytes it has not cut yet, feeds it each read,
/// and holds it to its promises whatever it does. Every byte fed comes out in exactly one
/// message, in order; when the decoder reports a decode error, or lets more than
/// `DecoderLimits.maxBufferedBytes` pile up without a message, the rest of the direction is
/// handed out raw (one message per read) with nothing decoded.
public struct MessageStream {
    private var decoder: any WireDecoder
    private var buffer = ByteBuffer()
    private let limits: DecoderLimits
    /// Set after a decode error: the direction is raw from here on.
    public private(set) var isPassthrough = false

    public init(decoder: any WireDecoder, limits: DecoderLimits) {
        self.decoder = decoder
        self.limits = limits
    }

    /// Bytes fed that are in no message yet.
    public var pendingByteCount: Int { buffer.readableBytes }

    /// Whether a quiet period or the other side speaking could complete a message now.
    public var hasPending: Bool { buffer.readableBytes > 0 || decoder.isHolding }

    /// Feeds one read; `emit` gets every message it completes.
    public mutating func feed(_ bytes: ByteBuffer, _ emit: (DecodedMessage) -> Void) {
        if isPassthrough {
            if bytes.readableBytes > 0 { emit(DecodedMessage(raw: bytes)) }
            return
        }
        if buffer.readableBytes == 0 {
            buffer = bytes
        } else {
            var bytes = bytes
            buffer.writeBuffer(&bytes)
        }
        while let message = decoder.decode(buffer: &buffer) {
            if handOut(message, emit) { return }
        }
        if buffer.readableBytes > limits.maxBufferedBytes {
            let reason = "no complete message in \(buffer.readableBytes) bytes (limit \(limits.maxBufferedBytes))"
            _ = handOut(DecodedMessage(raw: buffer.readSlice(length: buffer.readableBytes)!, decodeError: reason), emit)
            return
        }
        if buffer.readerIndex > 0 && buffer.readerIndex >= buffer.readableBytes { buffer.discardReadBytes() }
    }

    /// A quiet period passed, or the other side spoke: whatever that completes comes out.
    public mutating func flush(_ emit: (DecodedMessage) -> Void) {
        guard !isPassthrough else { return }
        while let message = decoder.decodeLast(buffer: &buffer, seenEOF: false) {
            if handOut(message, emit) { return }
        }
    }

    /// The other side spoke: what this side sent before is complete, even a message that waits
    /// for more (`WireDecoder.release`).
    public mutating func release(_ emit: (DecodedMessage) -> Void) {
        if hasPending { flush(emit) }
        guard !isPassthrough, let message = decoder.release() else { return }
        _ = handOut(message, emit)
    }

    /// The direction ended: everything comes out, what the decoder could not complete as a raw
    /// message marked truncated.
    public mutating func finish(_ emit: (DecodedMessage) -> Void) {
        guard !isPassthrough else { return }
        while let message = decoder.decodeLast(buffer: &buffer, seenEOF: true) {
            if handOut(message, emit) { return }
        }
        if buffer.readableBytes > 0 {
            let rest = buffer.readSlice(length: buffer.readableBytes)!
            emit(DecodedMessage(raw: rest, decodeError: "truncated: the stream ended inside a message"))
        }
        buffer = ByteBuffer()
    }

    /// Emits `message`; after a decode error also whatever is left, raw. True when decoding stopped.
    private mutating func handOut(_ message: DecodedMessage, _ emit: (DecodedMessage) -> Void) -> Bool {
        if message.raw.readableBytes > 0 || message.decodeError != nil { emit(message) }
        guard message.decodeError != nil else { return false }
        isPassthrough = true
        if buffer.readableBytes > 0 { emit(DecodedMessage(raw: buffer.readSlice(length: buffer.readableBytes)!)) }
        buffer = ByteBuffer()
        return true
    }

}
