import NIOCore
import Recording

/// `postgres`: the PostgreSQL frontend/backend protocol v3, cut into turns rather than protocol
/// messages: a client turn runs to a Query, Sync, Flush, Terminate, password/SASL response,
/// FunctionCall or the end of a COPY; a server turn to ReadyForQuery, an authentication request
/// that wants a reply, or a CopyIn/CopyBoth response. Startup-phase messages and the one-byte
/// answer to SSLRequest/GSSENCRequest are turns of their own; after an accepted SSLRequest
/// (GSSENCRequest) both directions are encrypted and recorded raw. docs/PROTOCOLS.md, `## postgres`.
public enum PostgresProtocol: WireProtocol {
    public static let name = "postgres"

    /// A typed message's length word must be below this (PostgreSQL's own limit,
    /// PQ_LARGE_MESSAGE_LIMIT, is 1 GiB - 1): a larger one is not PostgreSQL.
    public static let maxLengthWord = 1 << 30
    /// The longest StartupMessage accepted (and recognised).
    public static let maxStartupLength = 10_000
    /// A CancelRequest is 16 bytes; protocol 3.2 allows a secret key of up to 256 bytes.
    public static let cancelRequestLengths = 16...(12 + 256)
    /// How much of a statement is kept in `statement`, of an error message in `error`, and of a
    /// statement in an exchange's target.
    public static let maxStatementBytes = 4096
    public static let maxErrorBytes = 200
    public static let maxTargetCharacters = 200
    /// The smallest piece size used, whatever `DecoderLimits.maxMessageBytes` says.
    static let minPieceBytes = 16

    public static let sslRequestCode: UInt32 = 80_877_103
    public static let gssencRequestCode: UInt32 = 80_877_104
    static let cancelRequestCode: UInt32 = 80_877_102
    static let protocolVersion3: UInt32 = 196_608

    /// A client's first 8 bytes: a length word and an SSLRequest, GSSENCRequest, CancelRequest or
    /// protocol 3 StartupMessage code.
    public static func recognise(_ clientBytes: ByteBufferView) -> Recognition {
        var head: [UInt8] = []
        head.reserveCapacity(8)
        for byte in clientBytes.prefix(8) { head.append(byte) }
        guard head.count == 8 else {
            guard let first = head.first else { return .needMore }
            return first == 0 ? .needMore : .no
        }
        let length = head[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let code = head[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        switch code {
        case sslRequestCode, gssencRequestCode: return length == 8 ? .yes : .no
        case cancelRequestCode: return length == 16 ? .yes : .no
        default: return code >> 16 == 3 && (8...UInt32(maxStartupLength)).contains(length) ? .yes : .no
        }
    }

    public static func makeDecoders(limits: DecoderLimits) -> DecoderPair {
        let session = PostgresSession()
        return DecoderPair(client: PostgresDecoder(client: true, session: session, limits: limits),
                           server: PostgresDecoder(client: false, session: session, limits: limits))
    }
}

/// What one direction's decoder tells the other's: shared by a connection's two decoders, used on
/// one thread.
final class PostgresSession {
    enum SASLStage { case none, initial, continuing }
    /// An SSLRequest or GSSENCRequest was accepted: everything after is encrypted, recorded raw.
    var encrypted = false
    /// SSLRequests and GSSENCRequests the server has not answered yet.
    var pendingAnswers = 0
    /// Whether the client decoder has cut anything (a server speaking first may be answering an
    /// SSLRequest its decoder never saw).
    var clientSpoke = false
    var sasl = SASLStage.none
    /// Exchanges the client opened that no server turn has ended yet: a turn the end of the
    /// stream completes answers one only if there is one.
    var openRequests = 0
}

/// How a turn ended.
enum PostgresEnding: Equatable {
    /// After the typed message of this type.
    case message(UInt8)
    case startup, sslRequest, gssencRequest, cancelRequest
    /// The server's one-byte answer to SSLRequest/GSSENCRequest.
    case answer(UInt8)
    /// An asynchronous message while the server was idle.
    case async
    /// The stream ended (with a request open, or not: a FATAL error while idle answers nothing).
    case eof
    case eofUnprompted
}

/// One direction: typed messages are scanned in place, left in the buffer until their turn
/// ends (or grows past the piece size), so nothing is parsed twice.
struct PostgresDecoder: WireDecoder {
    private let isClient: Bool
    private let session: PostgresSession
    private let pieceLimit: Int
    /// Client: the next message is an untyped startup-phase one.
    private var expectsUntyped: Bool
    private var serverSpoke = false
    /// Server: a ReadyForQuery was the last thing sent.
    private var idle = false
    /// Bytes of the turn scanned (whole messages), from the reader index.
    private var scan = 0
    private var inTurn = false
    private var asyncTurn = false
    /// A message larger than a piece being handed out: its bytes not yet handed out.
    private var bigRemaining = 0
    private var bigName: StaticString = ""
    private var bigEnding: PostgresEnding?
    private var turn = PostgresTurn()

    private enum Step {
        case wait
        case piece(Int)
        case end(Int, PostgresEnding)
        case bad(String)
    }

    init(client: Bool, session: PostgresSession, limits: DecoderLimits) {
        isClient = client
        self.session = session
        expectsUntyped = client
        pieceLimit = max(limits.maxMessageBytes, PostgresProtocol.minPieceBytes)
    }

    mutating func decode(buffer: inout ByteBuffer) -> DecodedMessage? {
        if session.encrypted {
            guard buffer.readableBytes > 0, let rest = buffer.readSlice(length: buffer.readableBytes) else { return nil }
            return DecodedMessage(raw: rest)
        }
        let step = buffer.withUnsafeReadableBytes { advance($0) }
        switch step {
        case .wait:
            return nil
        case .piece(let length):
            return cut(&buffer, length, ending: nil)
        case .end(let length, let ending):
            return cut(&buffer, length, ending: ending)
        case .bad(let reason):
            // The whole messages before the bad one keep their decoding; the next call fails.
            if scan > 0 { return cut(&buffer, scan, ending: nil) }
            guard let rest = buffer.readSlice(length: buffer.readableBytes) else { return nil }
            return DecodedMessage(raw: rest, decodeError: reason)
        }
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) -> DecodedMessage? {
        if session.encrypted { return decode(buffer: &buffer) }
        // Turns are framed by the bytes alone: only the end completes one (what is left of a
        // message after it is recorded as truncated).
        guard seenEOF, bigRemaining == 0, scan > 0 else { return nil }
        return cut(&buffer, scan, ending: isClient || session.openRequests > 0 ? .eof : .eofUnprompted)
    }

    private mutating func cut(_ buffer: inout ByteBuffer, _ length: Int, ending: PostgresEnding?) -> DecodedMessage? {
        guard let raw = buffer.readSlice(length: length) else { return nil }
        scan = 0
        let message = turn.message(raw: raw, isClient: isClient, ending: ending)
        switch message.exchange {
        case .request?: session.openRequests += 1
        case .response?: session.openRequests = max(0, session.openRequests - 1)
        default: break
        }
        if ending != nil {
            inTurn = false
            asyncTurn = false
        } else if bigRemaining > 0 {
            turn.startsInside(bigName)
        }
        return message
    }

    private mutating func advance(_ bytes: UnsafeRawBufferPointer) -> Step {
        while true {
            let available = bytes.count - scan
            if bigRemaining > 0 {
                // scan is 0: the big message's first piece went out.
                if bigRemaining > pieceLimit {
                    guard available >= pieceLimit else { return .wait }
                    bigRemaining -= pieceLimit
                    return .piece(pieceLimit)
                }
                guard available >= bigRemaining else { return .wait }
                scan = bigRemaining
                bigRemaining = 0
                if let ending = bigEnding { return .end(scan, ending) }
                continue
            }
            if !inTurn {
                if isClient && expectsUntyped { return untyped(bytes) }
                if !isClient, let step = answer(bytes) { return step }
            }
            guard available >= 5 else { return .wait }
            let type = bytes[scan]
            let length = Int(clamping: bytes.loadUnaligned(fromByteOffset: scan + 1, as: UInt32.self).bigEndian)
            guard isClient ? PostgresTurn.isClientType(type) : PostgresTurn.isServerType(type) else {
                return .bad("unknown \(isClient ? "frontend" : "backend") message type 0x\(String(type, radix: 16))")
            }
            guard length >= 4 else { return .bad("message length \(length) is less than 4") }
            guard length < PostgresProtocol.maxLengthWord else {
                return .bad("message length \(length) is not below \(PostgresProtocol.maxLengthWord)")
            }
            let total = length + 1
            if !inTurn { startTurn(type) }
            if scan > 0 && scan + total > pieceLimit { return .piece(scan) }
            if total > pieceLimit {
                guard available >= pieceLimit else { return .wait }
                bigEnding = inspect(type, bytes, body: (scan + 5)..<(scan + pieceLimit))
                bigName = turn.lastName
                bigRemaining = total - pieceLimit
                return .piece(pieceLimit)
            }
            guard available >= total else { return .wait }
            let ending = inspect(type, bytes, body: (scan + 5)..<(scan + total))
            scan += total
            if let ending { return .end(scan, ending) }
        }
    }

    private mutating func startTurn(_ type: UInt8) {
        inTurn = true
        if isClient {
            session.clientSpoke = true
        } else {
            serverSpoke = true
            if idle && (type == UInt8(ascii: "A") || type == UInt8(ascii: "N") || type == UInt8(ascii: "S")) {
                asyncTurn = true
            } else {
                idle = false
            }
        }
    }

    /// The message's facts into the turn; the ending when it ends the turn.
    private mutating func inspect(_ type: UInt8, _ bytes: UnsafeRawBufferPointer, body: Range<Int>) -> PostgresEnding? {
        let ends: Bool
        if isClient {
            ends = turn.inspectClient(type, bytes, body: body, session: session)
        } else {
            ends = turn.inspectServer(type, bytes, body: body, session: session)
            if type == UInt8(ascii: "Z") { idle = true }
        }
        if asyncTurn { return .async }
        return ends ? .message(type) : nil
    }

    /// Client: SSLRequest, GSSENCRequest, CancelRequest or StartupMessage, each a turn.
    private mutating func untyped(_ bytes: UnsafeRawBufferPointer) -> Step {
        guard bytes.count >= 8 else { return .wait }
        let length = Int(clamping: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self).bigEndian)
        let code = bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self).bigEndian
        switch code {
        case PostgresProtocol.sslRequestCode, PostgresProtocol.gssencRequestCode:
            guard length == 8 else { return .bad("\(code == PostgresProtocol.sslRequestCode ? "SSLRequest" : "GSSENCRequest") length \(length) is not 8") }
            session.clientSpoke = true
            session.pendingAnswers += 1
            let ssl = code == PostgresProtocol.sslRequestCode
            turn.add(ssl ? "SSLRequest" : "GSSENCRequest")
            return .end(8, ssl ? .sslRequest : .gssencRequest)
        case PostgresProtocol.cancelRequestCode:
            guard PostgresProtocol.cancelRequestLengths.contains(length) else { return .bad("CancelRequest length \(length) is out of range") }
            guard bytes.count >= length else { return .wait }
            session.clientSpoke = true
            turn.add("CancelRequest")
            return .end(length, .cancelRequest)
        default:
            guard code >> 16 == 3 else { return .bad("unknown startup message code \(code)") }
            guard (8...PostgresProtocol.maxStartupLength).contains(length) else { return .bad("StartupMessage length \(length) is out of range") }
            guard bytes.count >= length else { return .wait }
            session.clientSpoke = true
            expectsUntyped = false
            turn.inspectStartup(bytes, body: 8..<length)
            return .end(length, .startup)
        }
    }

    /// Server: the one-byte answer to an SSLRequest/GSSENCRequest, or nil when none is due.
    private mutating func answer(_ bytes: UnsafeRawBufferPointer) -> Step? {
        guard session.pendingAnswers > 0 || (!serverSpoke && !session.clientSpoke) else { return nil }
        guard let byte = bytes.first else { return .wait }
        serverSpoke = true
        guard byte == UInt8(ascii: "S") || byte == UInt8(ascii: "N") || byte == UInt8(ascii: "G") else {
            // An old server's ErrorResponse, say: typed messages from here.
            session.pendingAnswers = 0
            return nil
        }
        session.pendingAnswers = max(0, session.pendingAnswers - 1)
        if byte != UInt8(ascii: "N") { session.encrypted = true }
        turn.inspectAnswer(byte)
        return .end(1, .answer(byte))
    }
}
