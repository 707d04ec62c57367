import NIOCore
import Recording

/// `smtp`: ESMTP (RFC 5321) as a mail client and server speak it. Client messages are commands
/// (one line each), AUTH responses (the line after a `334`), a DATA message body (every line after
/// the server's `354` up to and including the lone `.`) and BDAT chunks; server messages are
/// replies, a multi-line reply (`250-…` lines up to the `250 …` one) being one message. The
/// server speaks first, so `--decode auto` knows it from its greeting.
public enum SMTPProtocol: WireProtocol {
    public static let name = "smtp"
    /// Text fields (an address, a reply's text) keep at most this many bytes.
    static let maxFieldBytes = 200
    /// Commands awaiting a reply that are remembered (pipelining); past that, pairing stops.
    static let maxAwaiting = 4096

    /// A greeting: `220`, a space or a dash, and a first line that names SMTP (`220 mx.example
    /// ESMTP Postfix`), which tells it from an FTP server's `220`.
    public static func recognise(greeting: ByteBufferView) -> Recognition {
        let head = Array(greeting.prefix(512))
        let code = Array("220".utf8)
        guard head.count >= 4 else { return code.starts(with: head) ? .needMore : .no }
        guard head.starts(with: code), head[3] == UInt8(ascii: " ") || head[3] == UInt8(ascii: "-") else { return .no }
        guard let lineEnd = head.firstIndex(of: UInt8(ascii: "\n")) else { return head.count < 512 ? .needMore : .no }
        return String(decoding: head[..<lineEnd], as: UTF8.self).uppercased().contains("SMTP") ? .yes : .no
    }

    public static func makeDecoders(limits: DecoderLimits) -> DecoderPair {
        let session = SMTPSession()
        return DecoderPair(client: SMTPCommandDecoder(session: session, limits: limits),
                           server: SMTPReplyDecoder(session: session, limits: limits))
    }

    /// A line's bytes without its CRLF or LF.
    public static func content(_ line: ByteBufferView) -> ByteBufferView {
        var line = line
        if line.last == UInt8(ascii: "\n") { line = line.dropLast() }
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        return line
    }

    static func text(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes.prefix(maxFieldBytes), as: UTF8.self)
    }
}

/// What the two directions of one SMTP connection must know of each other: which commands await
/// a reply (the replies come in order, also when pipelined), and what the server's last
/// intermediate reply lets the client send next.
final class SMTPSession {
    var awaiting = CircularBuffer<String>()
    /// The server answered DATA with `354`: the client's next bytes are the message, up to a lone `.`.
    var bodyFollows = false
    /// The server asked for more of an AUTH exchange (`334`): the client's next line is a response.
    var authResponseFollows = false

    func sent(_ command: String) {
        if awaiting.count < SMTPProtocol.maxAwaiting { awaiting.append(command) }
    }
}

/// Client side.
struct SMTPCommandDecoder: WireDecoder {
    private let session: SMTPSession
    private let limits: DecoderLimits
    private var cutter: LineCutter
    /// In a DATA body: pieces already handed out, how far the search for the end got, and whether
    /// the buffer starts a line (the end is a `.` alone on a line).
    private var bodyPieces = 0
    private var bodySearched = 0
    private var bodyAtLineStart = true
    /// BDAT: chunk bytes still to come.
    private var chunkRemaining = 0

    init(session: SMTPSession, limits: DecoderLimits) {
        self.session = session
        self.limits = limits
        cutter = LineCutter(maxLineLength: limits.maxLineLength)
    }

    mutating func decode(buffer: inout ByteBuffer) -> DecodedMessage? {
        if chunkRemaining > 0 { return chunk(&buffer) }
        if session.bodyFollows { return body(&buffer) }
        guard let (line, kind) = cutter.next(&buffer) else { return nil }
        if kind == .overlong { return DecodedMessage(raw: line) }
        if session.authResponseFollows {
            // Credentials: no field holds them; the bytes stay where redaction (smtp-auth) applies.
            session.authResponseFollows = false
            return DecodedMessage(raw: line)
        }
        return command(line)
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) -> DecodedMessage? {
        decode(buffer: &buffer)
    }

    private mutating func command(_ line: ByteBuffer) -> DecodedMessage {
        let text = SMTPProtocol.content(line.readableBytesView)
        let verbBytes = text.prefix { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }
        let isLetter = { (byte: UInt8) in (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z") }
        guard !verbBytes.isEmpty, verbBytes.count <= 16, verbBytes.allSatisfy(isLetter) else {
            // Not a command, but the server answers it (500): it keeps its place in the pairing.
            session.sent("")
            return DecodedMessage(raw: line, exchange: .request(method: nil, target: nil))
        }
        let verb = String(decoding: verbBytes, as: UTF8.self).uppercased()
        let words = text.dropFirst(verbBytes.count).split { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        var fields = [MessageField("command", .text(verb))]
        var target: String?
        switch verb {
        case "EHLO", "HELO", "LHLO":
            target = words.first.map(SMTPProtocol.text)
            if let target { fields.append(MessageField("domain", .text(target))) }
        case "MAIL", "RCPT":
            let argument = text.dropFirst(verbBytes.count)
            if let open = argument.firstIndex(of: UInt8(ascii: "<")),
               let close = argument[open...].firstIndex(of: UInt8(ascii: ">")) {
                target = SMTPProtocol.text(argument[argument.index(after: open)..<close])
                fields.append(MessageField("address", .text(target!)))
            }
        case "AUTH":
            // The mechanism only: an initial response is a credential.
            target = words.first.map { SMTPProtocol.text($0).uppercased() }
            if let target { fields.append(MessageField("mechanism", .text(target))) }
        case "BDAT":
            if let size = words.first.flatMap({ Int(String(decoding: $0, as: UTF8.self)) }), size >= 0 {
                chunkRemaining = size
                fields.append(MessageField("size", .integer(Int64(size))))
            }
            if words.dropFirst().first.map({ String(decoding: $0, as: UTF8.self).uppercased() }) == "LAST" {
                fields.append(MessageField("last", .bool(true)))
            }
        default:
            break
        }
        session.sent(verb)
        return DecodedMessage(raw: line, verb: verb, fields: fields, exchange: .request(method: verb, target: target))
    }

    /// The message after `354`, up to and including the line holding a lone `.`, in pieces of at
    /// most `maxMessageBytes` (cut where the count says, so the cuts do not depend on the reads).
    private mutating func body(_ buffer: inout ByteBuffer) -> DecodedMessage? {
        let view = buffer.readableBytesView
        let count = min(view.count, limits.maxMessageBytes + 3)
        let byte = { (offset: Int) in view[view.startIndex + offset] }
        var atLineStart = bodySearched == 0 ? bodyAtLineStart : byte(bodySearched - 1) == UInt8(ascii: "\n")
        var end: Int?
        var offset = bodySearched
        scan: while offset < count {
            if atLineStart && byte(offset) == UInt8(ascii: ".") {
                guard offset + 1 < count else { break scan }  // wait for what follows the dot
                if byte(offset + 1) == UInt8(ascii: "\n") { end = offset + 2; break scan }
                if byte(offset + 1) == UInt8(ascii: "\r") {
                    guard offset + 2 < count else { break scan }
                    if byte(offset + 2) == UInt8(ascii: "\n") { end = offset + 3; break scan }
                }
            }
            atLineStart = byte(offset) == UInt8(ascii: "\n")
            offset += 1
        }
        let length: Int
        if let end, end <= limits.maxMessageBytes {
            length = end
        } else if view.count >= limits.maxMessageBytes {
            length = limits.maxMessageBytes
        } else {
            bodySearched = offset
            return nil
        }
        let piece = buffer.readSlice(length: length)!
        bodySearched = 0
        var fields: [MessageField] = []
        if bodyPieces > 0 { fields.append(MessageField("continuation", .bool(true))) }
        bodyPieces += 1
        if length == end {
            session.bodyFollows = false
            bodyPieces = 0
            bodyAtLineStart = true
            fields.append(MessageField("body_end", .bool(true)))
        } else {
            bodyAtLineStart = piece.readableBytesView.last == UInt8(ascii: "\n")
        }
        return DecodedMessage(raw: piece, fields: fields)
    }

    /// A BDAT chunk: exactly the size its command gave, in pieces of at most `maxMessageBytes`.
    private mutating func chunk(_ buffer: inout ByteBuffer) -> DecodedMessage? {
        let length = min(chunkRemaining, limits.maxMessageBytes)
        guard buffer.readableBytes >= length else { return nil }
        chunkRemaining -= length
        return DecodedMessage(raw: buffer.readSlice(length: length)!)
    }
}

/// Server side: one message per reply, all its lines.
struct SMTPReplyDecoder: WireDecoder {
    private let session: SMTPSession
    private let limits: DecoderLimits

    init(session: SMTPSession, limits: DecoderLimits) {
        self.session = session
        self.limits = limits
    }

    mutating func decode(buffer: inout ByteBuffer) -> DecodedMessage? {
        let view = buffer.readableBytesView
        var offset = view.startIndex
        var lines: [ByteBufferView] = []
        while offset < view.endIndex {
            let searchEnd = min(view.endIndex, offset + limits.maxLineLength + 1)
            guard let lineFeed = view[offset..<searchEnd].firstIndex(of: UInt8(ascii: "\n")) else {
                guard searchEnd - offset > limits.maxLineLength else { return nil }
                return DecodedMessage(raw: buffer.readSlice(length: searchEnd - view.startIndex)!,
                                      decodeError: "SMTP reply line longer than \(limits.maxLineLength) bytes")
            }
            let line = view[offset...lineFeed]
            offset = lineFeed + 1
            guard let (_, final) = Self.replyLine(line) else {
                return DecodedMessage(raw: buffer.readSlice(length: offset - view.startIndex)!,
                                      decodeError: "not an SMTP reply line: \(SMTPProtocol.text(SMTPProtocol.content(line).prefix(40)))")
            }
            lines.append(line)
            if final { return reply(lines, raw: buffer.readSlice(length: offset - view.startIndex)!) }
        }
        return nil
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) -> DecodedMessage? {
        decode(buffer: &buffer)
    }

    /// `250-…` (more lines follow) or `250 …`/`250` (the last): the code and whether it is the last.
    private static func replyLine(_ line: ByteBufferView) -> (code: Int, final: Bool)? {
        let text = SMTPProtocol.content(line)
        let digits = Array(text.prefix(3))
        guard digits.count == 3, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              digits[0] >= UInt8(ascii: "2"), digits[0] <= UInt8(ascii: "5") else { return nil }
        let code = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        let separator = text.dropFirst(3).first
        switch separator {
        case nil, UInt8(ascii: " "): return (code, true)
        case UInt8(ascii: "-"): return (code, false)
        default: return nil
        }
    }

    private mutating func reply(_ lines: [ByteBufferView], raw: ByteBuffer) -> DecodedMessage {
        let first = SMTPProtocol.content(lines[0])
        let code = first.prefix(3).reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        var text = first.dropFirst(4)
        var fields: [MessageField] = []
        // An enhanced status code (RFC 3463) opens the text: `2.1.0`.
        let firstWord = text.prefix { $0 != UInt8(ascii: " ") }
        let isEnhanced = firstWord.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).count == 3
            && firstWord.allSatisfy { $0 == UInt8(ascii: ".") || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) }
        if isEnhanced {
            fields.append(MessageField("enhanced", .text(SMTPProtocol.text(firstWord))))
            text = text.dropFirst(firstWord.count).drop { $0 == UInt8(ascii: " ") }
        }
        if !text.isEmpty { fields.append(MessageField("text", .text(SMTPProtocol.text(text)))) }
        if lines.count > 1 { fields.append(MessageField("lines", .integer(Int64(lines.count)))) }
        let unasked = session.awaiting.isEmpty
        let exchange: ExchangePart?
        switch code {
        case 334:
            session.authResponseFollows = true
            exchange = .interim
        case 354:
            session.bodyFollows = true
            exchange = .interim
        default:
            session.authResponseFollows = false
            let command = session.awaiting.popFirst()
            if code == 250, command == "EHLO" || command == "LHLO" {
                let keywords = lines.dropFirst().map { line in
                    SMTPProtocol.text(SMTPProtocol.content(line).dropFirst(4).prefix { $0 != UInt8(ascii: " ") }).uppercased()
                }
                if !keywords.isEmpty { fields.append(MessageField("extensions", .text(keywords.joined(separator: " ")))) }
            }
            // The greeting, or a server closing unasked (421), answers nothing.
            exchange = unasked ? nil : .response(status: code, outcome: String(code), error: code >= 400 ? String(code) : nil)
        }
        return DecodedMessage(raw: raw, replyCode: code, fields: fields, exchange: exchange)
    }
}
