import LabProtocol
import NIOCore

/// `lab`: the lab protocol's commands (verb, DATA payload) and replies (code; a 4xx reply is its
/// status line and the description line after it), cut as `wirelog serve` reads them.
public enum LabWireProtocol: WireProtocol {
    public static let name = "lab"
    public static let completesOnQuiet = true

    /// A lab client's first command: HELO, DATA or QUIT, in any case.
    public static func recognise(_ clientBytes: ByteBufferView) -> Recognition {
        let verbs: [[UInt8]] = [Array("HELO".utf8), Array("DATA".utf8), Array("QUIT".utf8)]
        let prefix = clientBytes.prefix(5).map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }
        if prefix.count < 4 {
            return verbs.contains { $0.starts(with: prefix) } ? .needMore : .no
        }
        guard verbs.contains(where: { prefix.starts(with: $0) }) else { return .no }
        if prefix.count == 4 { return .needMore }
        return [0x20, 0x0A, 0x0D].contains(prefix[4]) ? .yes : .no
    }

    public static func makeDecoders(limits: DecoderLimits) -> DecoderPair {
        DecoderPair(client: LabCommandDecoder(limits: limits), server: LabReplyDecoder(limits: limits))
    }
}

/// Client side: one message per command; a bare `DATA` and its payload line are one message.
struct LabCommandDecoder: WireDecoder {
    private var cutter: LineCutter
    private var parser = LabCommandParser()
    /// A message cut but not yet handed out (an overlong line right after a bare DATA).
    private var queued: DecodedMessage?
    /// A bare DATA went out on its own (the server spoke before its payload line came): the next
    /// line is that payload.
    private var payloadFollows = false

    init(limits: DecoderLimits) {
        cutter = LineCutter(maxLineLength: limits.maxLineLength)
    }

    mutating func decode(buffer: inout ByteBuffer) -> DecodedMessage? {
        if let queued = takeQueued() { return queued }
        while let (line, kind) = cutter.next(&buffer) {
            if let message = command(line, kind == .overlong ? .overlong : .terminated) { return message }
        }
        return nil
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) -> DecodedMessage? {
        if let message = decode(buffer: &buffer) { return message }
        if let rest = cutter.rest(&buffer), let message = command(rest, .unterminated) { return message }
        // A bare DATA waits for its payload through a quiet period (as in serve), not past the end.
        return seenEOF ? release() : nil
    }

    mutating func release() -> DecodedMessage? {
        let released = parser.finish { command, raw in DecodedMessage(raw: ByteBuffer(bytes: raw), verb: command.verbText) }
        payloadFollows = released?.verb?.uppercased() == "DATA"
        return released
    }

    private mutating func takeQueued() -> DecodedMessage? {
        defer { queued = nil }
        return queued
    }

    private mutating func command(_ line: ByteBuffer, _ kind: LinePiece.Kind) -> DecodedMessage? {
        if payloadFollows {
            payloadFollows = false
            if kind != .overlong {
                let length = line.withUnsafeReadableBytes { LinePiece(raw: $0, kind: kind).content.count }
                return DecodedMessage(raw: line, payloadRange: 0..<length)
            }
        }
        if kind == .overlong {
            // Not a command the lab knows; recorded as it came, after a DATA still waiting for it.
            let pending = parser.finish { command, raw in DecodedMessage(raw: ByteBuffer(bytes: raw), verb: command.verbText) }
            guard let pending else { return DecodedMessage(raw: line) }
            queued = DecodedMessage(raw: line)
            return pending
        }
        return line.withUnsafeReadableBytes { bytes in
            parser.parse(LinePiece(raw: bytes, kind: kind)) { step -> DecodedMessage? in
                guard case .command(let command, let raw) = step else { return nil }
                // One line is the slice itself; a DATA and its payload line are joined.
                let whole = raw.count == line.readableBytes ? line : ByteBuffer(bytes: raw)
                return DecodedMessage(raw: whole, verb: command.verbText, payloadRange: command.payloadRange)
            }
        }
    }
}

/// Server side: one message per reply, a 4xx status line together with the line after it.
struct LabReplyDecoder: WireDecoder {
    private var cutter: LineCutter
    /// The status line of a two-line 4xx reply, waiting for its second line.
    private var heldStatusLine: ByteBuffer?
    private var queued: DecodedMessage?

    init(limits: DecoderLimits) {
        cutter = LineCutter(maxLineLength: limits.maxLineLength)
    }

    var isHolding: Bool { heldStatusLine != nil }

    mutating func decode(buffer: inout ByteBuffer) -> DecodedMessage? {
        if let queued = takeQueued() { return queued }
        while let (line, kind) = cutter.next(&buffer) {
            if let message = reply(line, kind == .overlong ? .overlong : .terminated) { return message }
        }
        return nil
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) -> DecodedMessage? {
        if let message = decode(buffer: &buffer) { return message }
        if let rest = cutter.rest(&buffer), let message = reply(rest, .unterminated) { return message }
        return takeHeldStatusLine()
    }

    private mutating func takeQueued() -> DecodedMessage? {
        defer { queued = nil }
        return queued
    }

    private mutating func reply(_ line: ByteBuffer, _ kind: LinePiece.Kind) -> DecodedMessage? {
        if var held = heldStatusLine {
            if kind == .overlong {
                queued = DecodedMessage(raw: line)
                return takeHeldStatusLine()
            }
            // The second line of a 4xx reply (or what came of it before a close).
            heldStatusLine = nil
            var line = line
            held.writeBuffer(&line)
            return DecodedMessage(raw: held, replyCode: LabReply.statusCode(of: held.readableBytesView))
        }
        guard kind != .overlong else { return DecodedMessage(raw: line) }
        let code = LabReply.statusCode(of: line.readableBytesView)
        if kind == .terminated, let code, LabReply.lineCount(statusCode: code) == 2 {
            heldStatusLine = line
            return nil
        }
        return DecodedMessage(raw: line, replyCode: code)
    }

    private mutating func takeHeldStatusLine() -> DecodedMessage? {
        guard let held = heldStatusLine else { return nil }
        heldStatusLine = nil
        return DecodedMessage(raw: held, replyCode: LabReply.statusCode(of: held.readableBytesView))
    }
}
