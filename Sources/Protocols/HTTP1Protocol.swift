import NIOCore
import Recording
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `http`: HTTP/1.1 (RFC 9112). One message per HTTP message (head and body): requests from the
/// client, responses from the server; a body longer than `maxMessageBytes` in pieces. After a
/// `101 Switching Protocols` or a successful CONNECT both directions are handed out raw.
///
/// NIOHTTP1's `HTTPDecoder` is not used: it only runs as a channel handler and reports heads and
/// body parts, not the byte offsets where each message ends, and llhttp is not a public product.
public enum HTTP1Protocol: WireProtocol {
    public static let name = "http"

    private static let methods: [[UInt8]] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "PRI"]
        .map { Array($0.utf8) + [0x20] }

    /// A known method followed by a space.
    public static func recognise(_ clientBytes: ByteBufferView) -> Recognition {
        let prefix = Array(clientBytes.prefix(8))
        var undecided = false
        for method in methods {
            if prefix.count >= method.count {
                if prefix.starts(with: method) { return .yes }
            } else if method.starts(with: prefix) {
                undecided = true
            }
        }
        return undecided ? .needMore : .no
    }

    public static func makeDecoders(limits: DecoderLimits) -> DecoderPair {
        let shared = HTTP1Connection()
        return DecoderPair(client: HTTP1Decoder(side: .client, limits: limits, shared: shared),
                           server: HTTP1Decoder(side: .server, limits: limits, shared: shared))
    }
}

/// What the two decoders of one connection share (used on one thread): the requests still
/// waiting for their final response, and whether the connection left HTTP.
final class HTTP1Connection {
    struct Pending {
        var isHead: Bool
        var isConnect: Bool
        /// CONNECT or an `Upgrade` header: the client's next bytes may not be HTTP.
        var mayUpgrade: Bool
    }

    /// Beyond this many unanswered requests the oldest are forgotten (memory stays bounded).
    static let maxPending = 4096

    private var pending = CircularBuffer<Pending>(initialCapacity: 16)
    /// Unanswered requests that may switch protocols.
    private(set) var awaitingUpgrade = 0
    /// A 101 or a successful CONNECT was seen: both directions are raw from here on.
    var upgraded = false

    func push(_ request: Pending) {
        if pending.count >= Self.maxPending { _ = pop() }
        pending.append(request)
        if request.mayUpgrade { awaitingUpgrade += 1 }
    }

    /// The oldest unanswered request, taken off the queue by its final response.
    func pop() -> Pending? {
        guard let request = pending.popFirst() else { return nil }
        if request.mayUpgrade { awaitingUpgrade -= 1 }
        return request
    }
}

/// One direction of an HTTP/1.x connection.
struct HTTP1Decoder: WireDecoder {
    enum Side { case client, server }

    private enum Phase {
        /// Between messages: looking for the end of the next head.
        case head
        /// Inside a message's body.
        case body
        /// Not HTTP any more (after an upgrade): everything as it comes.
        case raw
    }

    private enum BodyMode {
        case length(remaining: Int)
        case chunked(ChunkedState)
        case untilClose
    }

    /// The message being cut.
    private struct Current {
        var mode: BodyMode
        /// Bytes of the head at the front of the current piece (0 in later pieces).
        var headLength: Int
        /// Bytes of the current piece (from the reader index) already parsed.
        var consumed: Int
        var isFirstPiece = true
        var fields: [MessageField]
        var verb: String?
        var replyCode: Int?
        /// On the first piece: the request, or the interim/101 part.
        var firstExchange: ExchangePart?
        /// On the last piece of a final response.
        var lastExchange: ExchangePart?
        var upgradesAfter = false
    }

    private let side: Side
    private let limits: DecoderLimits
    private let maxPiece: Int
    private let shared: HTTP1Connection
    private var phase = Phase.head
    private var current: Current?
    /// Head scan: where the search for the end of the head resumes, and where the start line begins.
    private var scanned = 0
    private var headStart: Int?
    /// Set at EOF: a client waiting for an upgrade's answer gives up waiting.
    private var stopWaiting = false

    init(side: Side, limits: DecoderLimits, shared: HTTP1Connection) {
        self.side = side
        self.limits = limits
        self.maxPiece = max(1, limits.maxMessageBytes)
        self.shared = shared
    }

    mutating func decode(buffer: inout ByteBuffer) -> DecodedMessage? {
        switch phase {
        case .raw:
            return rawRest(&buffer)
        case .body:
            return decodeBody(&buffer)
        case .head:
            if shared.upgraded {
                phase = .raw
                return rawRest(&buffer)
            }
            // After a CONNECT or Upgrade request the client's next bytes wait for the answer.
            if side == .client && shared.awaitingUpgrade > 0 && !stopWaiting { return nil }
            return decodeHead(&buffer)
        }
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) -> DecodedMessage? {
        if let message = decode(buffer: &buffer) { return message }
        guard seenEOF else { return nil }
        switch phase {
        case .head:
            if side == .client && !stopWaiting && shared.awaitingUpgrade > 0 {
                stopWaiting = true
                if let message = decode(buffer: &buffer) { return message }
            }
            // Blank lines between messages, then the end: not a truncated message.
            let onlyBlank = buffer.readableBytes > 0
                && buffer.readableBytesView.allSatisfy { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }
            if onlyBlank, let rest = buffer.readSlice(length: buffer.readableBytes) {
                scanned = 0
                headStart = nil
                return DecodedMessage(raw: rest)
            }
            return nil
        case .body:
            // A close-delimited body ends with the stream.
            guard var current, case .untilClose = current.mode else { return nil }
            current.consumed = buffer.readableBytes
            self.current = current
            return finishMessage(&buffer, at: buffer.readableBytes)
        case .raw:
            return nil
        }
    }

    private func rawRest(_ buffer: inout ByteBuffer) -> DecodedMessage? {
        guard buffer.readableBytes > 0, let rest = buffer.readSlice(length: buffer.readableBytes) else { return nil }
        return DecodedMessage(raw: rest)
    }

    // MARK: Head

    private enum Scan {
        case needMore, tooLong
        case end(Int)
    }

    private mutating func decodeHead(_ buffer: inout ByteBuffer) -> DecodedMessage? {
        guard buffer.readableBytes > 0 else { return nil }
        let maxHead = limits.maxHeaderBytes
        let scan = buffer.withUnsafeReadableBytes { bytes in scanForEndOfHead(bytes, maxHead: maxHead) }
        switch scan {
        case .needMore:
            return nil
        case .tooLong:
            return failHead(&buffer, length: min(buffer.readableBytes, max(1, maxHead)),
                            "HTTP head longer than \(maxHead) bytes")
        case .end(let end):
            let start = headStart ?? 0
            scanned = 0
            headStart = nil
            let side = self.side
            let maxLine = limits.maxLineLength
            let parsed = buffer.withUnsafeReadableBytes { bytes in
                HTTP1HeadParser.parse(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), side: side, maxLineLength: maxLine)
            }
            switch parsed {
            case .failure(let reason):
                return failHead(&buffer, length: end, reason)
            case .head(let head):
                return startMessage(head, headLength: end, &buffer)
            }
        }
    }

    private func failHead(_ buffer: inout ByteBuffer, length: Int, _ reason: String) -> DecodedMessage? {
        guard let raw = buffer.readSlice(length: length) else { return nil }
        return DecodedMessage(raw: raw, decodeError: reason)
    }

    /// Finds the empty line ending the head, resuming where the last call stopped.
    private mutating func scanForEndOfHead(_ bytes: UnsafeRawBufferPointer, maxHead: Int) -> Scan {
        let limit = min(bytes.count, maxHead)
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        if headStart == nil {
            var i = scanned
            while i < limit && (bytes[i] == cr || bytes[i] == lf) { i += 1 }
            scanned = i
            if i == limit { return bytes.count >= maxHead ? .tooLong : .needMore }
            headStart = i
        }
        guard let base = bytes.baseAddress else { return .needMore }
        var i = scanned
        while i < limit {
            guard let hit = memchr(base + i, Int32(lf), limit - i) else {
                scanned = limit
                break
            }
            let at = UnsafeRawPointer(hit) - base
            if at + 1 >= limit { scanned = at; break }
            let next = bytes[at + 1]
            if next == lf { return .end(at + 2) }
            if next == cr {
                if at + 2 >= limit { scanned = at; break }
                if bytes[at + 2] == lf { return .end(at + 3) }
            }
            i = at + 1
            scanned = i
        }
        return bytes.count >= maxHead ? .tooLong : .needMore
    }

    /// Decides the body's framing from the head and hands out what is already complete.
    private mutating func startMessage(_ head: HTTP1Head, headLength: Int, _ buffer: inout ByteBuffer) -> DecodedMessage? {
        var fields: [MessageField] = []
        fields.reserveCapacity(10)
        var mode: BodyMode? = nil
        var current: Current
        switch side {
        case .client:
            fields.append(MessageField("method", .text(head.method)))
            fields.append(MessageField("target", .text(head.target)))
            fields.append(MessageField("version", .text(head.version)))
            if let host = head.host { fields.append(MessageField("host", .text(host))) }
            if let type = head.contentType { fields.append(MessageField("content_type", .text(type))) }
            if let length = head.contentLength { fields.append(MessageField("content_length", .integer(Int64(length)))) }
            if let coding = head.transferEncoding { fields.append(MessageField("transfer_encoding", .text(coding))) }
            fields.append(MessageField("body_offset", .integer(Int64(headLength))))
            if head.transferEncoding != nil {
                guard head.chunked else {
                    return failHead(&buffer, length: headLength, "request Transfer-Encoding does not end in chunked")
                }
                mode = .chunked(ChunkedState(maxLineLength: limits.maxLineLength))
            } else if let length = head.contentLength, length > 0 {
                mode = .length(remaining: length)
            }
            current = Current(mode: mode ?? .length(remaining: 0), headLength: headLength, consumed: headLength, fields: fields,
                              verb: head.method, firstExchange: .request(method: head.method, target: head.target))
            if head.method == "PRI" && head.version == "HTTP/2.0" {
                // The HTTP/2 connection preface (prior knowledge): no response, and not HTTP/1 after it.
                current.firstExchange = nil
                current.upgradesAfter = true
            } else {
                let isConnect = head.method == "CONNECT"
                shared.push(.init(isHead: head.method == "HEAD", isConnect: isConnect, mayUpgrade: isConnect || head.upgrade))
            }
        case .server:
            let status = head.status
            fields.append(MessageField("version", .text(head.version)))
            fields.append(MessageField("status", .integer(Int64(status))))
            fields.append(MessageField("reason", .text(head.reason)))
            if let type = head.contentType { fields.append(MessageField("content_type", .text(type))) }
            if let length = head.contentLength { fields.append(MessageField("content_length", .integer(Int64(length)))) }
            if let coding = head.transferEncoding { fields.append(MessageField("transfer_encoding", .text(coding))) }
            fields.append(MessageField("body_offset", .integer(Int64(headLength))))
            let final = ExchangePart.response(status: status, outcome: head.reason, error: nil)
            current = Current(mode: .length(remaining: 0), headLength: headLength, consumed: headLength, fields: fields,
                              replyCode: status)
            if status < 200 && status != 101 {
                current.firstExchange = .interim
            } else {
                let request = shared.pop()
                current.lastExchange = final
                if status == 101 || (request?.isConnect == true && status < 300) {
                    current.upgradesAfter = true
                } else if request?.isHead == true || status == 204 || status == 304 {
                    // No body.
                } else if head.transferEncoding != nil {
                    mode = head.chunked ? .chunked(ChunkedState(maxLineLength: limits.maxLineLength)) : .untilClose
                } else if let length = head.contentLength {
                    if length > 0 { mode = .length(remaining: length) }
                } else {
                    mode = .untilClose
                }
            }
            if let mode { current.mode = mode }
        }
        self.current = current
        phase = .body
        if mode == nil { return finishMessage(&buffer, at: headLength) }
        // The head of a request expecting 100-continue comes out before its body.
        if side == .client && head.expectContinue { return cutPiece(&buffer, at: headLength) }
        return decodeBody(&buffer)
    }

    // MARK: Body

    private mutating func decodeBody(_ buffer: inout ByteBuffer) -> DecodedMessage? {
        guard var current else { phase = .head; return nil }
        let available = buffer.readableBytes
        let (cap, overflow) = current.headLength.addingReportingOverflow(maxPiece)
        let pieceEnd = overflow ? Int.max : cap
        let end = min(available, pieceEnd)
        switch current.mode {
        case .length(var remaining):
            let step = min(remaining, max(0, end - current.consumed))
            remaining -= step
            current.consumed += step
            current.mode = .length(remaining: remaining)
            self.current = current
            if remaining == 0 { return finishMessage(&buffer, at: current.consumed) }
            if current.consumed == pieceEnd { return cutPiece(&buffer, at: pieceEnd) }
            return nil
        case .untilClose:
            current.consumed = max(current.consumed, end)
            self.current = current
            // Cut only when a byte lies beyond the piece, so the last piece at EOF is never empty.
            if available > pieceEnd { return cutPiece(&buffer, at: pieceEnd) }
            return nil
        case .chunked(var state):
            let from = current.consumed
            let outcome: ChunkedState.Outcome = end > from
                ? buffer.withUnsafeReadableBytes { bytes in state.advance(UnsafeRawBufferPointer(rebasing: bytes[from..<end])) }
                : .needMore
            current.mode = .chunked(state)
            switch outcome {
            case .done(let used):
                current.consumed = from + used
                self.current = current
                return finishMessage(&buffer, at: from + used)
            case .failed(let at, let reason):
                var message = makeMessage(&buffer, length: from + at + 1, last: false)
                message?.decodeError = reason
                self.current = nil
                phase = .raw
                return message
            case .needMore:
                current.consumed = end
                self.current = current
                if end == pieceEnd { return cutPiece(&buffer, at: pieceEnd) }
                return nil
            }
        }
    }

    /// Hands out the message's last (or only) piece, `length` bytes.
    private mutating func finishMessage(_ buffer: inout ByteBuffer, at length: Int) -> DecodedMessage? {
        let upgrades = current?.upgradesAfter ?? false
        let message = makeMessage(&buffer, length: length, last: true)
        current = nil
        phase = .head
        if upgrades {
            shared.upgraded = true
            phase = .raw
        }
        return message
    }

    /// Hands out a piece of a message that goes on.
    private mutating func cutPiece(_ buffer: inout ByteBuffer, at length: Int) -> DecodedMessage? {
        let message = makeMessage(&buffer, length: length, last: false)
        current?.isFirstPiece = false
        current?.headLength = 0
        current?.consumed = 0
        current?.fields = []
        return message
    }

    private func makeMessage(_ buffer: inout ByteBuffer, length: Int, last: Bool) -> DecodedMessage? {
        guard let current, let raw = buffer.readSlice(length: length) else { return nil }
        if current.isFirstPiece {
            var fields = current.fields
            fields.append(MessageField("body_length", .integer(Int64(length - current.headLength))))
            return DecodedMessage(raw: raw, verb: current.verb, replyCode: current.replyCode, fields: fields,
                                  exchange: last ? current.lastExchange ?? current.firstExchange : current.firstExchange)
        }
        return DecodedMessage(raw: raw, fields: [MessageField("continuation", .bool(true))],
                              exchange: last ? current.lastExchange : nil)
    }
}

// MARK: - Chunked framing

/// The chunked transfer coding's framing (RFC 9112 §7.1), parsed incrementally: chunk sizes (hex,
/// overflow checked), extensions, data, the last chunk and trailer fields.
struct ChunkedState {
    enum Outcome {
        case needMore
        /// The message ends after this many of the bytes given.
        case done(Int)
        /// The byte at this offset breaks the framing.
        case failed(at: Int, reason: String)
    }

    private enum Step {
        case size, sizeCR, extensions, data, dataCR, dataLF, trailerStart, trailer, trailerCR
    }

    let maxLineLength: Int
    private var step = Step.size
    private var size = 0
    private var digits = 0
    private var remaining = 0
    /// Bytes of the current size or trailer line.
    private var lineLength = 0

    init(maxLineLength: Int) {
        self.maxLineLength = maxLineLength
    }

    mutating func advance(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        var i = 0
        let count = bytes.count
        while i < count {
            if step == .data {
                let take = min(remaining, count - i)
                remaining -= take
                i += take
                if remaining == 0 { step = .dataCR }
                continue
            }
            let byte = bytes[i]
            switch step {
            case .size:
                lineLength += 1
                if let value = hexValue(byte) {
                    let (shifted, o1) = size.multipliedReportingOverflow(by: 16)
                    let (sum, o2) = shifted.addingReportingOverflow(value)
                    if o1 || o2 { return .failed(at: i, reason: "chunk size too large") }
                    size = sum
                    digits += 1
                } else if digits == 0 {
                    return .failed(at: i, reason: "invalid chunk size")
                } else if byte == UInt8(ascii: ";") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                    step = .extensions
                } else if byte == cr {
                    step = .sizeCR
                } else if byte == lf {
                    endOfSizeLine()
                } else {
                    return .failed(at: i, reason: "invalid chunk size")
                }
            case .extensions:
                lineLength += 1
                if byte == lf {
                    endOfSizeLine()
                } else if byte == 0 {
                    return .failed(at: i, reason: "invalid chunk extension")
                }
            case .sizeCR:
                guard byte == lf else { return .failed(at: i, reason: "chunk size line not ended by CRLF") }
                endOfSizeLine()
            case .data:
                break
            case .dataCR:
                if byte == cr {
                    step = .dataLF
                } else if byte == lf {
                    step = .size
                } else {
                    return .failed(at: i, reason: "chunk data not followed by CRLF")
                }
            case .dataLF:
                guard byte == lf else { return .failed(at: i, reason: "chunk data not followed by CRLF") }
                step = .size
            case .trailerStart:
                if byte == cr {
                    step = .trailerCR
                } else if byte == lf {
                    return .done(i + 1)
                } else {
                    step = .trailer
                    lineLength = 1
                }
            case .trailer:
                if byte == lf { step = .trailerStart } else { lineLength += 1 }
            case .trailerCR:
                guard byte == lf else { return .failed(at: i, reason: "trailer section not ended by CRLF") }
                return .done(i + 1)
            }
            if lineLength > maxLineLength { return .failed(at: i, reason: "chunk line longer than \(maxLineLength) bytes") }
            i += 1
        }
        return .needMore
    }

    private mutating func endOfSizeLine() {
        lineLength = 0
        if size == 0 {
            step = .trailerStart
        } else {
            remaining = size
            step = .data
        }
        size = 0
        digits = 0
    }

    private func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte &- UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte &- UInt8(ascii: "A")) + 10
        default: return nil
        }
    }
}

// MARK: - Head parsing

/// What a head says that wirelog records or frames by.
struct HTTP1Head {
    var method = ""
    var target = ""
    var version = ""
    var status = 0
    var reason = ""
    var host: String?
    var contentType: String?
    var contentLength: Int?
    var transferEncoding: String?
    /// The last transfer coding is chunked.
    var chunked = false
    var expectContinue = false
    var upgrade = false
}

enum HTTP1HeadParser {
    enum Result {
        case head(HTTP1Head)
        case failure(String)
    }

    private static let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n"), sp = UInt8(ascii: " "), tab = UInt8(ascii: "\t")

    /// Parses a whole head: start line, header fields, the empty line.
    static func parse(_ bytes: UnsafeRawBufferPointer, side: HTTP1Decoder.Side, maxLineLength: Int) -> Result {
        var head = HTTP1Head()
        var lineStart = 0
        var isStartLine = true
        var sawContentLength = false
        while lineStart < bytes.count {
            guard let lfAt = indexOfLF(bytes, from: lineStart) else { return .failure("HTTP head not ended by an empty line") }
            var lineEnd = lfAt
            if lineEnd > lineStart && bytes[lineEnd - 1] == cr { lineEnd -= 1 }
            if lineEnd - lineStart > maxLineLength { return .failure("HTTP head line longer than \(maxLineLength) bytes") }
            defer { lineStart = lfAt + 1 }
            if lineEnd == lineStart {
                if isStartLine { return .failure("empty HTTP start line") }
                return .head(head)
            }
            if isStartLine {
                isStartLine = false
                let error = side == .client
                    ? parseRequestLine(bytes, lineStart, lineEnd, &head)
                    : parseStatusLine(bytes, lineStart, lineEnd, &head)
                if let error { return .failure(error) }
                continue
            }
            if bytes[lineStart] == sp || bytes[lineStart] == tab { return .failure("obsolete line folding in a header field") }
            var colon = lineStart
            while colon < lineEnd && bytes[colon] != UInt8(ascii: ":") {
                guard isToken(bytes[colon]) else { return .failure("invalid header field name") }
                colon += 1
            }
            guard colon < lineEnd, colon > lineStart else { return .failure("header field without a name and colon") }
            var valueStart = colon + 1, valueEnd = lineEnd
            while valueStart < valueEnd && (bytes[valueStart] == sp || bytes[valueStart] == tab) { valueStart += 1 }
            while valueEnd > valueStart && (bytes[valueEnd - 1] == sp || bytes[valueEnd - 1] == tab) { valueEnd -= 1 }
            for i in valueStart..<valueEnd where bytes[i] == 0 || bytes[i] == cr {
                return .failure("invalid byte in a header field value")
            }
            let name = (lineStart, colon)
            if nameIs(bytes, name, "content-length") {
                guard let length = parseContentLength(bytes, valueStart, valueEnd) else { return .failure("invalid Content-Length") }
                if sawContentLength && head.contentLength != length { return .failure("conflicting Content-Length values") }
                sawContentLength = true
                head.contentLength = length
            } else if nameIs(bytes, name, "transfer-encoding") {
                let value = text(bytes, valueStart, valueEnd)
                head.transferEncoding = head.transferEncoding.map { $0 + ", " + value } ?? value
                head.chunked = lastCodingIsChunked(bytes, valueStart, valueEnd, previous: head.chunked)
            } else if nameIs(bytes, name, "host") {
                if head.host == nil { head.host = text(bytes, valueStart, valueEnd) }
            } else if nameIs(bytes, name, "content-type") {
                if head.contentType == nil { head.contentType = text(bytes, valueStart, valueEnd) }
            } else if nameIs(bytes, name, "expect") {
                if equalsLowercase(bytes, valueStart, valueEnd, "100-continue") { head.expectContinue = true }
            } else if nameIs(bytes, name, "upgrade") {
                head.upgrade = true
            }
        }
        return .failure("HTTP head not ended by an empty line")
    }

    private static func parseRequestLine(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ head: inout HTTP1Head) -> String? {
        var i = start
        while i < end && isToken(bytes[i]) { i += 1 }
        guard i > start, i < end, bytes[i] == sp else { return "invalid HTTP request method" }
        let methodEnd = i
        i += 1
        let targetStart = i
        while i < end && bytes[i] > sp && bytes[i] != 0x7F { i += 1 }
        guard i > targetStart, i < end, bytes[i] == sp else { return "invalid HTTP request target" }
        let targetEnd = i
        guard isVersion(bytes, i + 1, end), i + 9 == end else { return "invalid HTTP version in the request line" }
        head.method = text(bytes, start, methodEnd)
        head.target = text(bytes, targetStart, targetEnd)
        head.version = text(bytes, i + 1, end)
        return nil
    }

    private static func parseStatusLine(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ head: inout HTTP1Head) -> String? {
        guard isVersion(bytes, start, end), start + 12 <= end, bytes[start + 8] == sp else { return "invalid HTTP status line" }
        var status = 0
        for i in (start + 9)..<(start + 12) {
            let byte = bytes[i]
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return "invalid HTTP status code" }
            status = status * 10 + Int(byte - UInt8(ascii: "0"))
        }
        guard status >= 100 else { return "invalid HTTP status code" }
        if start + 12 < end && bytes[start + 12] != sp { return "invalid HTTP status line" }
        head.version = text(bytes, start, start + 8)
        head.status = status
        head.reason = start + 13 <= end ? text(bytes, start + 13, end) : ""
        return nil
    }

    /// `HTTP/d.d` at `start`.
    private static func isVersion(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Bool {
        guard end - start >= 8 else { return false }
        let digit = { (b: UInt8) in b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        return bytes[start] == UInt8(ascii: "H") && bytes[start + 1] == UInt8(ascii: "T") && bytes[start + 2] == UInt8(ascii: "T")
            && bytes[start + 3] == UInt8(ascii: "P") && bytes[start + 4] == UInt8(ascii: "/") && digit(bytes[start + 5])
            && bytes[start + 6] == UInt8(ascii: ".") && digit(bytes[start + 7])
    }

    /// Digits, or a comma-separated list of equal ones (RFC 9112 §6.3); nil when invalid.
    private static func parseContentLength(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int? {
        var result: Int?
        var i = start
        while i <= end {
            while i < end && (bytes[i] == sp || bytes[i] == tab) { i += 1 }
            var value = 0, digits = 0
            while i < end, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
                let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = shifted.addingReportingOverflow(Int(bytes[i] - UInt8(ascii: "0")))
                if o1 || o2 { return nil }
                value = sum
                digits += 1
                i += 1
            }
            while i < end && (bytes[i] == sp || bytes[i] == tab) { i += 1 }
            guard digits > 0, result == nil || result == value else { return nil }
            result = value
            if i == end { return result }
            guard bytes[i] == UInt8(ascii: ",") else { return nil }
            i += 1
        }
        return result
    }

    /// Whether the last coding of this Transfer-Encoding line is chunked (an empty line keeps
    /// the previous answer).
    private static func lastCodingIsChunked(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, previous: Bool) -> Bool {
        var codingEnd = end
        while codingEnd > start && (bytes[codingEnd - 1] == sp || bytes[codingEnd - 1] == tab || bytes[codingEnd - 1] == UInt8(ascii: ",")) {
            codingEnd -= 1
        }
        guard codingEnd > start else { return previous }
        var codingStart = codingEnd
        while codingStart > start && bytes[codingStart - 1] != UInt8(ascii: ",") { codingStart -= 1 }
        while codingStart < codingEnd && (bytes[codingStart] == sp || bytes[codingStart] == tab) { codingStart += 1 }
        return equalsLowercase(bytes, codingStart, codingEnd, "chunked")
    }

    private static func nameIs(_ bytes: UnsafeRawBufferPointer, _ name: (Int, Int), _ lowercase: StaticString) -> Bool {
        equalsLowercase(bytes, name.0, name.1, lowercase)
    }

    /// Case-insensitive comparison with a lowercase ASCII literal.
    private static func equalsLowercase(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ lowercase: StaticString) -> Bool {
        guard end - start == lowercase.utf8CodeUnitCount else { return false }
        let literal = lowercase.utf8Start
        for i in 0..<(end - start) {
            var byte = bytes[start + i]
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte |= 0x20 }
            if byte != literal[i] { return false }
        }
        return true
    }

    private static func indexOfLF(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let base = bytes.baseAddress, from < bytes.count,
              let hit = memchr(base + from, Int32(lf), bytes.count - from) else { return nil }
        return UnsafeRawPointer(hit) - base
    }

    private static func text(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    /// RFC 9110 tchar.
    static func isToken(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
