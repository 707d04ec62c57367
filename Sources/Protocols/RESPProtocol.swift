import NIOCore
import Recording
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `resp`: Redis's RESP2 and RESP3. One message per client command (a multibulk array of bulk
/// strings, or an inline line) and per server reply (any RESP2/RESP3 value, attributes kept with
/// the reply they annotate). A command pairs with its reply through a FIFO the two decoders share;
/// pub/sub pushes pair with nothing. A message longer than `maxMessageBytes` is handed out in
/// pieces as it arrives. docs/PROTOCOLS.md (`## resp`) lists the fields.
public enum RESPProtocol: WireProtocol {
    public static let name = "resp"

    /// Redis's `proto-max-bulk-len` default: a longer bulk string is not RESP (decode error).
    static let maxBulkLength = 512 * 1024 * 1024
    /// Redis's limit on a multibulk count (1024 * 1024); a larger aggregate is a decode error.
    static let maxAggregateCount = 1024 * 1024
    /// Aggregates nested deeper than this are a decode error (hiredis allows 7; RESP3 replies seldom pass 3).
    static let maxDepth = 64
    /// The most bytes kept of a command name, a key or a first element.
    static let captureLimit = 200
    /// The longest bulk string reported as `value`.
    static let valueLimit = 64
    /// Commands pipelined without a reply that the pairing FIFO keeps; past it replies pair loosely.
    static let maxPendingCommands = 1 << 16

    /// Well-known commands an inline (telnet-style) client may start with. QUIT is left to lab.
    static let inlineCommands: [[UInt8]] = [
        "PING", "SET", "GET", "AUTH", "HELLO", "INFO", "SELECT", "ECHO", "DEL", "EXISTS", "INCR", "DECR",
        "KEYS", "CONFIG", "CLIENT", "COMMAND", "FLUSHALL", "FLUSHDB", "LPUSH", "RPUSH", "LPOP", "RPOP",
        "LRANGE", "LLEN", "SUBSCRIBE", "PSUBSCRIBE", "PUBLISH", "MULTI", "EXEC", "DISCARD", "WATCH",
        "DBSIZE", "MGET", "MSET", "SETEX", "SETNX", "EXPIRE", "TTL", "HGET", "HSET", "HGETALL", "HDEL",
        "SADD", "SMEMBERS", "ZADD", "ZRANGE", "SCAN", "MONITOR", "APPEND", "INCRBY", "STRLEN",
    ].map { Array($0.utf8) }

    /// A client starting `*<digit>` (multibulk) or an inline line whose first word is a well-known
    /// command. `GET` followed by an HTTP request target or version is left to HTTP.
    public static func recognise(_ clientBytes: ByteBufferView) -> Recognition {
        guard let first = clientBytes.first else { return .needMore }
        if first == UInt8(ascii: "*") {
            let rest = clientBytes.dropFirst()
            guard let next = rest.first else { return .needMore }
            return next >= 0x30 && next <= 0x39 ? .yes : .no
        }
        var word: [UInt8] = []
        word.reserveCapacity(16)
        var terminated = false
        for byte in clientBytes {
            if byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A {
                terminated = true
                break
            }
            if word.count >= 16 { return .no }
            word.append(byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte)
        }
        guard terminated else {
            return inlineCommands.contains { $0.starts(with: word) } ? .needMore : .no
        }
        guard inlineCommands.contains(word) else { return .no }
        if word == Array("GET".utf8) {
            // `GET / HTTP/1.1` is HTTP's: look at the whole first line.
            guard let lf = clientBytes.firstIndex(of: 0x0A) else {
                return clientBytes.count < 1024 ? .needMore : .yes
            }
            let line = Array(clientBytes[clientBytes.startIndex..<lf])
            let http = Array(" HTTP/".utf8)
            if line.count >= http.count {
                for start in 0...(line.count - http.count) where line[start..<(start + http.count)].elementsEqual(http) {
                    return .no
                }
            }
        }
        return .yes
    }

    public static func makeDecoders(limits: DecoderLimits) -> DecoderPair {
        let connection = RESPConnection()
        return DecoderPair(client: RESPDecoder(side: .client, limits: limits, connection: connection),
                           server: RESPDecoder(side: .server, limits: limits, connection: connection))
    }
}

/// What the two decoders of one connection share to pair replies with commands: how many replies
/// each outstanding command still expects, and the subscriptions the server last reported. Used on
/// one thread.
final class RESPConnection {
    enum Kind: Equatable {
        case plain, reset
        case subscribe(PubSub), unsubscribe(PubSub)
    }

    enum PubSub: Equatable {
        case channel, pattern, shard
    }

    struct Pending {
        var kind: Kind
        /// Replies still expected; -1: an argument-less UNSUBSCRIBE, resolved on its first reply.
        var replies: Int
    }

    private(set) var pending = CircularBuffer<Pending>(initialCapacity: 16)
    private(set) var channels = 0
    private(set) var patterns = 0
    private(set) var shards = 0

    var inSubscribedMode: Bool { channels + patterns + shards > 0 }

    /// A command went out with `arguments` arguments after its name.
    func commandSent(_ command: String?, arguments: Int) {
        guard pending.count < RESPProtocol.maxPendingCommands else { return }
        let entry: Pending
        switch command {
        case "SUBSCRIBE": entry = Pending(kind: .subscribe(.channel), replies: max(1, arguments))
        case "PSUBSCRIBE": entry = Pending(kind: .subscribe(.pattern), replies: max(1, arguments))
        case "SSUBSCRIBE": entry = Pending(kind: .subscribe(.shard), replies: max(1, arguments))
        case "UNSUBSCRIBE": entry = Pending(kind: .unsubscribe(.channel), replies: arguments > 0 ? arguments : -1)
        case "PUNSUBSCRIBE": entry = Pending(kind: .unsubscribe(.pattern), replies: arguments > 0 ? arguments : -1)
        case "SUNSUBSCRIBE": entry = Pending(kind: .unsubscribe(.shard), replies: arguments > 0 ? arguments : -1)
        case "RESET": entry = Pending(kind: .reset, replies: 1)
        default: entry = Pending(kind: .plain, replies: 1)
        }
        pending.append(entry)
    }

    /// A complete server message: its exchange part, or nil for a push.
    func reply(_ reply: ReplyFacts, outcome: String?, error: String?) -> ExchangePart? {
        let response = ExchangePart.response(status: nil, outcome: outcome, error: error)
        if let name = reply.pubSubName, reply.isPush || reply.isArray {
            if name.isMessage {
                // A published message: a push in RESP3, and in RESP2 while subscribed.
                if reply.isPush || inSubscribedMode { return nil }
            } else {
                let expected: Bool
                if case .subscribe = pending.first?.kind { expected = true }
                else if case .unsubscribe = pending.first?.kind { expected = true }
                else { expected = false }
                if expected {
                    let part = consume(isError: false)
                    confirm(name, count: reply.count)
                    return part == .interim ? .interim : response
                }
                // Unasked for: a push in RESP3 (the server dropping a shard channel); in RESP2
                // just an array that looks like one.
                if reply.isPush {
                    confirm(name, count: reply.count)
                    return nil
                }
            }
        }
        if reply.isPush { return nil }
        return consume(isError: reply.isError) == .interim ? .interim : response
    }

    /// Takes one reply off the oldest command: `.interim` while it expects more.
    private func consume(isError: Bool) -> ExchangePart {
        let done = ExchangePart.response(status: nil, outcome: nil, error: nil)
        guard var head = pending.first else { return done }
        if isError {
            pending.removeFirst()
            return done
        }
        if head.replies < 0 {
            switch head.kind {
            case .unsubscribe(.channel): head.replies = max(1, channels)
            case .unsubscribe(.pattern): head.replies = max(1, patterns)
            default: head.replies = max(1, shards)
            }
        }
        head.replies -= 1
        if head.replies > 0 {
            pending[pending.startIndex] = head
            return .interim
        }
        pending.removeFirst()
        if head.kind == .reset { channels = 0; patterns = 0; shards = 0 }
        return done
    }

    /// A (un)subscribe confirmation with the subscription count the server reported.
    private func confirm(_ name: PubSubName, count: Int?) {
        guard let count, count >= 0 else { return }
        switch name {
        case .subscribe, .unsubscribe: channels = max(0, count - patterns)
        case .psubscribe, .punsubscribe: patterns = max(0, count - channels)
        case .ssubscribe, .sunsubscribe: shards = count
        case .message, .pmessage, .smessage: break
        }
    }
}

/// The first element of a pub/sub array or push.
enum PubSubName {
    case message, pmessage, smessage
    case subscribe, unsubscribe, psubscribe, punsubscribe, ssubscribe, sunsubscribe

    var isMessage: Bool { self == .message || self == .pmessage || self == .smessage }

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 7 && bytes.count <= 12 else { return nil }
        var lower = ""
        lower.reserveCapacity(12)
        for byte in bytes {
            let b = byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte
            guard b >= 0x61 && b <= 0x7A else { return nil }
            lower.unicodeScalars.append(Unicode.Scalar(b))
        }
        switch lower {
        case "message": self = .message
        case "pmessage": self = .pmessage
        case "smessage": self = .smessage
        case "subscribe": self = .subscribe
        case "unsubscribe": self = .unsubscribe
        case "psubscribe": self = .psubscribe
        case "punsubscribe": self = .punsubscribe
        case "ssubscribe": self = .ssubscribe
        case "sunsubscribe": self = .sunsubscribe
        default: return nil
        }
    }
}

/// What pairing needs to know of a whole server message.
struct ReplyFacts {
    var isPush: Bool
    var isArray: Bool
    var isError: Bool
    var pubSubName: PubSubName?
    /// The third element, when an integer (a subscription count).
    var count: Int?
}

/// One direction of a RESP connection. Parses in place and remembers how far it got, so a
/// message arriving in many reads is parsed once; a message longer than `maxMessageBytes` comes
/// out in pieces cut where its bytes alone decide (never where a read happened to end).
struct RESPDecoder: WireDecoder {
    enum Side { case client, server }

    private enum Step {
        case needMore
        /// The message is not over but the piece is full: hand out `offset` bytes.
        case cut
        case complete
        /// `end` bytes of the piece were good.
        case failure(String, end: Int)
    }

    private enum Slot { case none, first, second }

    private struct Frame {
        var remaining: Int
        var total: Int
        var isAttribute: Bool
    }

    private let side: Side
    private let maxLine: Int
    private let maxMessage: Int
    private let connection: RESPConnection

    // Where parsing stands in the current piece (offsets from the buffer's reader index).
    private var offset = 0
    /// Bytes after `offset` already searched for the current line's LF.
    private var lineSearched = 0
    /// Inside a bulk string: its bytes still to come, CRLF included.
    private var bulkLeft = 0
    private var bulkSlot = Slot.none
    private var stack: [Frame] = []
    private var started = false
    private var pieceIndex = 0

    // What the message says, gathered as it is parsed (kept across pieces).
    /// The type byte of the top-level value (after any attribute); 0 until known.
    private var type: UInt8 = 0
    private var isNull = false
    private var isInline = false
    private var topCount = 0
    private var first: [UInt8] = []
    private var firstLength = -1
    private var firstComplete = false
    private var second: [UInt8] = []
    private var secondLength = -1
    private var secondComplete = false
    private var third: Int?

    init(side: Side, limits: DecoderLimits, connection: RESPConnection) {
        self.side = side
        self.maxLine = max(4, limits.maxLineLength)
        self.maxMessage = max(8, limits.maxMessageBytes)
        self.connection = connection
        stack.reserveCapacity(8)
        first.reserveCapacity(RESPProtocol.captureLimit)
        second.reserveCapacity(RESPProtocol.captureLimit)
    }

    mutating func decode(buffer: inout ByteBuffer) -> DecodedMessage? {
        guard offset <= buffer.readableBytes else {
            // Not something MessageStream does; record rather than misparse.
            let raw = buffer.readSlice(length: buffer.readableBytes) ?? ByteBuffer()
            resetMessage()
            return DecodedMessage(raw: raw, decodeError: "internal: the buffer lost parsed bytes")
        }
        let step = buffer.withUnsafeReadableBytes { run($0) }
        switch step {
        case .needMore:
            return nil
        case .cut:
            return piece(&buffer, final: false)
        case .complete:
            return piece(&buffer, final: true)
        case .failure(let reason, let end):
            let raw = buffer.readSlice(length: min(end, buffer.readableBytes)) ?? ByteBuffer()
            resetMessage()
            return DecodedMessage(raw: raw, decodeError: reason)
        }
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) -> DecodedMessage? {
        // RESP frames itself: a quiet period completes nothing, and at EOF MessageStream records
        // what is left as truncated.
        decode(buffer: &buffer)
    }

    // MARK: Parsing

    private mutating func run(_ bytes: UnsafeRawBufferPointer) -> Step {
        guard let base = bytes.baseAddress else { return .needMore }
        let count = bytes.count
        while true {
            if bulkLeft > 0 {
                let room = maxMessage - offset
                if room <= 0 { return .cut }
                let available = count - offset
                if available <= 0 { return .needMore }
                let take = min(available, bulkLeft, room)
                let dataLeft = bulkLeft - 2
                if dataLeft > 0 && bulkSlot != .none {
                    capture(UnsafeRawBufferPointer(start: base + offset, count: min(take, dataLeft)))
                }
                if take > dataLeft {
                    // The chunk reaches the bulk's closing CRLF.
                    var j = max(0, dataLeft)
                    while j < take {
                        let expected: UInt8 = bulkLeft - j == 2 ? 0x0D : 0x0A
                        if bytes[offset + j] != expected { return .failure("missing CRLF after a bulk string", end: offset + j) }
                        j += 1
                    }
                }
                offset += take
                bulkLeft -= take
                if bulkLeft == 0 {
                    switch bulkSlot {
                    case .first: firstComplete = true
                    case .second: secondComplete = true
                    case .none: break
                    }
                    bulkSlot = .none
                    if valueDone() { return .complete }
                }
                continue
            }
            let available = count - offset
            if available <= 0 { return .needMore }
            let start = base + offset
            if side == .client && !started && bytes[offset] != UInt8(ascii: "*") {
                return inline(start, available)
            }
            // A line: type byte, content, CRLF; content and type at most maxLine bytes.
            let searchEnd = min(available, maxLine + 2)
            var lf = -1
            if lineSearched < searchEnd,
               let hit = memchr(start + lineSearched, 0x0A, searchEnd - lineSearched) {
                lf = UnsafeRawPointer(hit) - start
            }
            if lf < 0 {
                lineSearched = searchEnd
                // The line is longer than what was searched: if that cannot fit, the piece ends here.
                if offset > 0 && offset + searchEnd + 1 > maxMessage { return .cut }
                if available >= maxLine + 2 { return .failure("a line longer than \(maxLine) bytes", end: offset) }
                return .needMore
            }
            lineSearched = 0
            let lineLength = lf + 1
            if offset > 0 && offset + lineLength > maxMessage { return .cut }
            guard lf >= 2, bytes[offset + lf - 1] == 0x0D else { return .failure("a line not ended by CRLF", end: offset) }
            let content = UnsafeRawBufferPointer(start: start + 1, count: lf - 2)
            let typeByte = bytes[offset]
            let result = side == .client ? commandElement(typeByte, content) : replyElement(typeByte, content)
            switch result {
            case .failure(let reason, _): return .failure(reason, end: offset)
            case .complete:
                offset += lineLength
                started = true
                return .complete
            default:
                offset += lineLength
                started = true
            }
        }
    }

    /// An inline command: one line, LF or CRLF ended, of whitespace-separated words.
    private mutating func inline(_ start: UnsafeRawPointer, _ available: Int) -> Step {
        let searchEnd = min(available, maxLine + 1)
        var lf = -1
        if lineSearched < searchEnd, let hit = memchr(start + lineSearched, 0x0A, searchEnd - lineSearched) {
            lf = UnsafeRawPointer(hit) - start
        }
        guard lf >= 0 else {
            lineSearched = searchEnd
            if available > maxLine { return .failure("an inline command longer than \(maxLine) bytes", end: 0) }
            return .needMore
        }
        lineSearched = 0
        isInline = true
        started = true
        var words = 0
        var i = 0
        let line = UnsafeRawBufferPointer(start: start, count: lf)
        while i < lf {
            let b = line[i]
            if b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0B || b == 0x0C {
                i += 1
                continue
            }
            var j = i
            while j < lf {
                let c = line[j]
                if c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0B || c == 0x0C { break }
                j += 1
            }
            let word = UnsafeRawBufferPointer(rebasing: line[i..<j])
            if words == 0 {
                bulkSlot = .first
                first.removeAll(keepingCapacity: true)
                firstLength = word.count
                capture(word)
                firstComplete = true
            } else if words == 1 {
                bulkSlot = .second
                second.removeAll(keepingCapacity: true)
                secondLength = word.count
                capture(word)
                secondComplete = true
            }
            bulkSlot = .none
            words += 1
            i = j
        }
        topCount = words
        offset = lf + 1
        return .complete
    }

    private mutating func commandElement(_ typeByte: UInt8, _ content: UnsafeRawBufferPointer) -> Step {
        if stack.isEmpty {
            // `*` (inline lines were taken before).
            guard let n = Self.integer(content) else { return .failure("a multibulk length that is not a number", end: 0) }
            if n < -1 || n > RESPProtocol.maxAggregateCount {
                return .failure("a multibulk length of \(n) (allowed: -1 to \(RESPProtocol.maxAggregateCount))", end: 0)
            }
            type = typeByte
            topCount = max(0, n)
            if n <= 0 { return .complete }
            stack.append(Frame(remaining: n, total: n, isAttribute: false))
            return .needMore
        }
        guard typeByte == UInt8(ascii: "$") else {
            return .failure("a command element that is not a bulk string (\(Self.describe(typeByte)))", end: 0)
        }
        guard let length = Self.integer(content) else { return .failure("a bulk length that is not a number", end: 0) }
        if length < 0 || length > RESPProtocol.maxBulkLength {
            return .failure("a bulk length of \(length) in a command (allowed: 0 to \(RESPProtocol.maxBulkLength))", end: 0)
        }
        let index = stack[0].total - stack[0].remaining
        startBulk(length, slot: index == 0 ? .first : index == 1 ? .second : .none)
        return .needMore
    }

    private mutating func replyElement(_ typeByte: UInt8, _ content: UnsafeRawBufferPointer) -> Step {
        let topLevel = stack.isEmpty
        // The first and third elements of a top-level array or push: pub/sub names and counts.
        let index = stack.count == 1 && !stack[0].isAttribute ? stack[0].total - stack[0].remaining : -1
        switch typeByte {
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: ","),
             UInt8(ascii: "#"), UInt8(ascii: "("), UInt8(ascii: "_"):
            if typeByte == UInt8(ascii: ":") {
                guard let value = Self.integer(content) else { return .failure("an integer reply that is not a number", end: 0) }
                if index == 2 { third = value }
            }
            if topLevel {
                type = typeByte
                if typeByte == UInt8(ascii: "_") { isNull = true }
            }
            if topLevel || (index == 0 && typeByte == UInt8(ascii: "+")) {
                first.removeAll(keepingCapacity: true)
                firstLength = content.count
                bulkSlot = .first
                capture(content)
                bulkSlot = .none
                firstComplete = true
            }
            return valueDone() ? .complete : .needMore
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            guard let length = Self.integer(content) else { return .failure("a bulk length that is not a number", end: 0) }
            if length < -1 || length > RESPProtocol.maxBulkLength {
                return .failure("a bulk length of \(length) (allowed: -1 to \(RESPProtocol.maxBulkLength))", end: 0)
            }
            if topLevel { type = typeByte }
            if length == -1 {
                if topLevel { isNull = true }
                return valueDone() ? .complete : .needMore
            }
            startBulk(length, slot: topLevel || (index == 0 && typeByte == UInt8(ascii: "$")) ? .first : .none)
            return .needMore
        case UInt8(ascii: "*"), UInt8(ascii: "%"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "|"):
            guard let n = Self.integer(content) else { return .failure("an aggregate length that is not a number", end: 0) }
            if n < -1 || n > RESPProtocol.maxAggregateCount {
                return .failure("an aggregate length of \(n) (allowed: -1 to \(RESPProtocol.maxAggregateCount))", end: 0)
            }
            let isAttribute = typeByte == UInt8(ascii: "|")
            if topLevel && !isAttribute {
                type = typeByte
                topCount = max(0, n)
                if n == -1 { isNull = true }
            }
            let elements = typeByte == UInt8(ascii: "%") || isAttribute ? 2 * max(0, n) : max(0, n)
            if elements == 0 {
                // An empty attribute annotates nothing; an empty or null aggregate is a value.
                if isAttribute { return .needMore }
                return valueDone() ? .complete : .needMore
            }
            if stack.count >= RESPProtocol.maxDepth {
                return .failure("aggregates nested deeper than \(RESPProtocol.maxDepth)", end: 0)
            }
            stack.append(Frame(remaining: elements, total: elements, isAttribute: isAttribute))
            return .needMore
        default:
            return .failure("an unknown RESP type byte \(Self.describe(typeByte))", end: 0)
        }
    }

    private mutating func startBulk(_ length: Int, slot: Slot) {
        bulkLeft = length + 2
        bulkSlot = slot
        switch slot {
        case .first:
            first.removeAll(keepingCapacity: true)
            firstLength = length
            firstComplete = false
        case .second:
            second.removeAll(keepingCapacity: true)
            secondLength = length
            secondComplete = false
        case .none:
            break
        }
    }

    /// Keeps the first `captureLimit` bytes of the value in `bulkSlot`.
    private mutating func capture(_ bytes: UnsafeRawBufferPointer) {
        switch bulkSlot {
        case .first:
            let room = RESPProtocol.captureLimit - first.count
            if room > 0 { first.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes.prefix(room))) }
        case .second:
            let room = RESPProtocol.captureLimit - second.count
            if room > 0 { second.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes.prefix(room))) }
        case .none:
            break
        }
    }

    /// A value ended: counts it against the aggregates it is in. True when the message is whole.
    private mutating func valueDone() -> Bool {
        while !stack.isEmpty {
            let last = stack.count - 1
            stack[last].remaining -= 1
            if stack[last].remaining > 0 { return false }
            let wasAttribute = stack[last].isAttribute
            stack.removeLast()
            // An attribute is not a value: what it annotates comes next.
            if wasAttribute { return false }
        }
        return true
    }

    // MARK: Messages

    private mutating func piece(_ buffer: inout ByteBuffer, final: Bool) -> DecodedMessage? {
        let raw = buffer.readSlice(length: offset) ?? ByteBuffer()
        var message = DecodedMessage(raw: raw)
        if pieceIndex == 0 {
            side == .client ? describeCommand(&message) : describeReply(&message)
        } else {
            message.fields = [MessageField("continuation", .bool(true))]
        }
        if final {
            if side == .server { message.exchange = replyExchange() }
            resetMessage()
        } else {
            pieceIndex += 1
            offset = 0
            lineSearched = 0
        }
        return message
    }

    private func describeCommand(_ message: inout DecodedMessage) {
        guard topCount > 0 else { return } // an empty line, `*0`, `*-1`: redis skips them
        let command = firstComplete && firstLength <= RESPProtocol.captureLimit ? Self.upperText(first) : nil
        // AUTH's and HELLO's arguments are credentials (or lead to them), not keys.
        let credentials = command == "AUTH" || command == "HELLO" || command == "MIGRATE"
        let key = !credentials && secondComplete && secondLength <= RESPProtocol.captureLimit && Self.isPrintable(second)
            ? Self.text(second) : nil
        var fields: [MessageField] = []
        fields.reserveCapacity(3)
        if let command { fields.append(MessageField("command", .text(command))) }
        if let key { fields.append(MessageField("key", .text(key))) }
        fields.append(MessageField("arguments", .integer(Int64(topCount - 1))))
        message.fields = fields
        message.verb = command
        message.exchange = .request(method: command, target: key)
        connection.commandSent(command, arguments: topCount - 1)
    }

    private func describeReply(_ message: inout DecodedMessage) {
        guard let name = typeName else { return }
        var fields: [MessageField] = []
        fields.reserveCapacity(3)
        fields.append(MessageField("type", .text(name)))
        if let error = errorWord { fields.append(MessageField("error", .text(error))) }
        if let value = valueText { fields.append(MessageField("value", .text(value))) }
        if !isNull && Self.isAggregate(type) { fields.append(MessageField("elements", .integer(Int64(topCount)))) }
        message.fields = fields
    }

    private func replyExchange() -> ExchangePart? {
        let isAggregate = type == UInt8(ascii: "*") || type == UInt8(ascii: ">")
        let facts = ReplyFacts(
            isPush: type == UInt8(ascii: ">"), isArray: type == UInt8(ascii: "*") && !isNull,
            isError: type == UInt8(ascii: "-") || type == UInt8(ascii: "!"),
            pubSubName: isAggregate && firstComplete && !isNull ? PubSubName(first) : nil, count: third)
        return connection.reply(facts, outcome: typeName, error: errorWord)
    }

    private var typeName: String? {
        if isNull { return "null" }
        switch type {
        case UInt8(ascii: "+"): return "simple"
        case UInt8(ascii: "-"): return "error"
        case UInt8(ascii: ":"): return "integer"
        case UInt8(ascii: "$"): return "bulk"
        case UInt8(ascii: "*"): return "array"
        case UInt8(ascii: "_"): return "null"
        case UInt8(ascii: ","): return "double"
        case UInt8(ascii: "#"): return "boolean"
        case UInt8(ascii: "!"): return "blob_error"
        case UInt8(ascii: "="): return "verbatim"
        case UInt8(ascii: "("): return "big_number"
        case UInt8(ascii: "%"): return "map"
        case UInt8(ascii: "~"): return "set"
        case UInt8(ascii: ">"): return "push"
        default: return nil
        }
    }

    /// An error's first word (`ERR`, `WRONGTYPE`), from its first bytes.
    private var errorWord: String? {
        guard type == UInt8(ascii: "-") || type == UInt8(ascii: "!"), firstLength >= 0 else { return nil }
        let word = first.prefix { $0 != 0x20 && $0 != 0x0D && $0 != 0x0A }
        guard !word.isEmpty else { return nil }
        return Self.text(word)
    }

    private var valueText: String? {
        guard firstComplete, !isNull else { return nil }
        switch type {
        case UInt8(ascii: "+"), UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "("):
            return firstLength <= RESPProtocol.captureLimit ? Self.text(first) : nil
        case UInt8(ascii: "#"):
            if first == [UInt8(ascii: "t")] { return "true" }
            if first == [UInt8(ascii: "f")] { return "false" }
            return firstLength <= RESPProtocol.captureLimit ? Self.text(first) : nil
        case UInt8(ascii: "$"):
            return firstLength <= RESPProtocol.valueLimit && Self.isPrintable(first) ? Self.text(first) : nil
        default:
            return nil
        }
    }

    private mutating func resetMessage() {
        offset = 0
        lineSearched = 0
        bulkLeft = 0
        bulkSlot = .none
        stack.removeAll(keepingCapacity: true)
        started = false
        pieceIndex = 0
        type = 0
        isNull = false
        isInline = false
        topCount = 0
        first.removeAll(keepingCapacity: true)
        firstLength = -1
        firstComplete = false
        second.removeAll(keepingCapacity: true)
        secondLength = -1
        secondComplete = false
        third = nil
    }

    // MARK: Helpers

    /// A signed decimal integer, nil when empty, not digits, or out of range.
    static func integer(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        var negative = false
        if bytes.count > 0 && (bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+")) {
            negative = bytes[0] == UInt8(ascii: "-")
            i = 1
        }
        guard i < bytes.count else { return nil }
        var value = 0
        while i < bytes.count {
            let digit = Int(bytes[i]) - 0x30
            guard digit >= 0 && digit <= 9 else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            value = sum
            i += 1
        }
        return value
    }

    static func isAggregate(_ type: UInt8) -> Bool {
        type == UInt8(ascii: "*") || type == UInt8(ascii: "%") || type == UInt8(ascii: "~") || type == UInt8(ascii: ">")
    }

    static func isPrintable<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }

    static func text<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        String(decoding: bytes, as: UTF8.self)
    }

    static func upperText(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: bytes.count) { out in
            for (i, b) in bytes.enumerated() { out[i] = b >= 0x61 && b <= 0x7A ? b - 0x20 : b }
            return bytes.count
        }
    }

    static func describe(_ byte: UInt8) -> String {
        byte >= 0x21 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "0x" + String(byte, radix: 16)
    }
}
