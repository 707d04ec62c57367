import NIOCore
import Recording
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a PostgreSQL turn (or the piece of one being cut) holds: the facts its fields and
/// exchange part are made of, read from message bodies in place. Never a password, SASL payload
/// or Bind parameter value.
struct PostgresTurn {
    // This piece.
    private var names = PostgresNameList()
    private var verb: StaticString?
    private var statement: String?
    private var parameters: Int?
    private var user: String?
    private var database: String?
    private var mechanism: String?
    private var tag: String?
    private var rows = 0
    private var sawRows = false
    private var sqlstate: String?
    private var severity: String?
    private var error: String?
    private var transaction: String?
    private var encrypted: Bool?
    // The whole turn, for its exchange part.
    private var continuation = false
    private var turnVerb: StaticString?
    private var turnStatement: String?
    private var turnTag: String?
    private var turnSqlstate: String?
    private(set) var lastName: StaticString = ""

    static func isClientType(_ type: UInt8) -> Bool {
        switch type {
        case UInt8(ascii: "Q"), UInt8(ascii: "P"), UInt8(ascii: "B"), UInt8(ascii: "D"), UInt8(ascii: "E"),
             UInt8(ascii: "S"), UInt8(ascii: "H"), UInt8(ascii: "C"), UInt8(ascii: "X"), UInt8(ascii: "d"),
             UInt8(ascii: "c"), UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "p"):
            return true
        default:
            return false
        }
    }

    static func isServerType(_ type: UInt8) -> Bool {
        switch type {
        case UInt8(ascii: "R"), UInt8(ascii: "S"), UInt8(ascii: "K"), UInt8(ascii: "Z"), UInt8(ascii: "T"),
             UInt8(ascii: "D"), UInt8(ascii: "C"), UInt8(ascii: "I"), UInt8(ascii: "E"), UInt8(ascii: "N"),
             UInt8(ascii: "1"), UInt8(ascii: "2"), UInt8(ascii: "3"), UInt8(ascii: "n"), UInt8(ascii: "t"),
             UInt8(ascii: "s"), UInt8(ascii: "G"), UInt8(ascii: "H"), UInt8(ascii: "W"), UInt8(ascii: "d"),
             UInt8(ascii: "c"), UInt8(ascii: "A"), UInt8(ascii: "V"), UInt8(ascii: "v"):
            return true
        default:
            return false
        }
    }

    mutating func add(_ name: StaticString) {
        names.add(name)
        if verb == nil { verb = name }
        if turnVerb == nil { turnVerb = name }
        lastName = name
    }

    /// The next piece begins inside a message handed out in part already.
    mutating func startsInside(_ name: StaticString) {
        verb = name
    }

    /// A frontend message; true when it ends the turn.
    mutating func inspectClient(_ type: UInt8, _ bytes: UnsafeRawBufferPointer, body: Range<Int>, session: PostgresSession) -> Bool {
        switch type {
        case UInt8(ascii: "Q"):
            add("Query")
            if turnStatement == nil {
                let end = cStringEnd(bytes, body) ?? body.upperBound
                setStatement(bytes, body.lowerBound..<end)
            }
            return true
        case UInt8(ascii: "P"):
            add("Parse")
            if turnStatement == nil, let nameEnd = cStringEnd(bytes, body) {
                let query = (nameEnd + 1)..<body.upperBound
                setStatement(bytes, query.lowerBound..<(cStringEnd(bytes, query) ?? query.upperBound))
            }
            return false
        case UInt8(ascii: "B"):
            add("Bind")
            if parameters == nil { parameters = bindParameterCount(bytes, body) }
            return false
        case UInt8(ascii: "D"): add("Describe"); return false
        case UInt8(ascii: "E"): add("Execute"); return false
        case UInt8(ascii: "C"): add("Close"); return false
        case UInt8(ascii: "d"): add("CopyData"); return false
        case UInt8(ascii: "S"): add("Sync"); return true
        case UInt8(ascii: "H"): add("Flush"); return true
        case UInt8(ascii: "X"): add("Terminate"); return true
        case UInt8(ascii: "c"): add("CopyDone"); return true
        case UInt8(ascii: "f"): add("CopyFail"); return true
        case UInt8(ascii: "F"): add("FunctionCall"); return true
        case UInt8(ascii: "p"):
            switch session.sasl {
            case .initial:
                add("SASLInitialResponse")
                session.sasl = .continuing
                if mechanism == nil, let end = cStringEnd(bytes, body) {
                    mechanism = text(bytes, body.lowerBound..<end, maxBytes: 64)
                }
            case .continuing:
                add("SASLResponse")
            case .none:
                add("PasswordMessage")
            }
            return true
        default:
            return false
        }
    }

    /// A backend message; true when it ends the turn.
    mutating func inspectServer(_ type: UInt8, _ bytes: UnsafeRawBufferPointer, body: Range<Int>, session: PostgresSession) -> Bool {
        switch type {
        case UInt8(ascii: "R"):
            let code = body.count >= 4 ? Int(clamping: bytes.loadUnaligned(fromByteOffset: body.lowerBound, as: UInt32.self).bigEndian) : -1
            add(Self.authenticationName(code))
            switch code {
            case 10: session.sasl = .initial
            case 0, 12: session.sasl = .none
            default: break
            }
            switch code {
            case 2, 3, 5, 7, 8, 9, 10, 11: return true
            default: return false
            }
        case UInt8(ascii: "S"): add("ParameterStatus")
        case UInt8(ascii: "K"): add("BackendKeyData")
        case UInt8(ascii: "Z"):
            add("ReadyForQuery")
            switch body.first.map({ bytes[$0] }) {
            case UInt8(ascii: "I")?: transaction = "I"
            case UInt8(ascii: "T")?: transaction = "T"
            case UInt8(ascii: "E")?: transaction = "E"
            case _?: transaction = text(bytes, body.lowerBound..<(body.lowerBound + 1), maxBytes: 1)
            case nil: break
            }
            return true
        case UInt8(ascii: "T"): add("RowDescription"); sawRows = true
        case UInt8(ascii: "D"): add("DataRow"); rows += 1; sawRows = true
        case UInt8(ascii: "C"):
            add("CommandComplete")
            tag = text(bytes, body.lowerBound..<(cStringEnd(bytes, body) ?? body.upperBound), maxBytes: 64)
            turnTag = tag
        case UInt8(ascii: "I"): add("EmptyQueryResponse")
        case UInt8(ascii: "E"):
            add("ErrorResponse")
            readError(bytes, body)
        case UInt8(ascii: "N"): add("NoticeResponse")
        case UInt8(ascii: "1"): add("ParseComplete")
        case UInt8(ascii: "2"): add("BindComplete")
        case UInt8(ascii: "3"): add("CloseComplete")
        case UInt8(ascii: "n"): add("NoData")
        case UInt8(ascii: "t"): add("ParameterDescription")
        case UInt8(ascii: "s"): add("PortalSuspended")
        case UInt8(ascii: "G"): add("CopyInResponse"); return true
        case UInt8(ascii: "H"): add("CopyOutResponse")
        case UInt8(ascii: "W"): add("CopyBothResponse"); return true
        case UInt8(ascii: "d"): add("CopyData")
        case UInt8(ascii: "c"): add("CopyDone")
        case UInt8(ascii: "A"): add("NotificationResponse")
        case UInt8(ascii: "V"): add("FunctionCallResponse")
        case UInt8(ascii: "v"): add("NegotiateProtocolVersion")
        default: break
        }
        return false
    }

    /// StartupMessage parameters: `user` and `database` only.
    mutating func inspectStartup(_ bytes: UnsafeRawBufferPointer, body: Range<Int>) {
        add("StartupMessage")
        var at = body.lowerBound
        while at < body.upperBound, bytes[at] != 0, let keyEnd = cStringEnd(bytes, at..<body.upperBound) {
            let valueStart = keyEnd + 1
            guard let valueEnd = cStringEnd(bytes, valueStart..<body.upperBound) else { break }
            if equals(bytes, at..<keyEnd, "user") {
                user = text(bytes, valueStart..<valueEnd, maxBytes: 256)
            } else if equals(bytes, at..<keyEnd, "database") {
                database = text(bytes, valueStart..<valueEnd, maxBytes: 256)
            }
            at = valueEnd + 1
        }
    }

    mutating func inspectAnswer(_ byte: UInt8) {
        let name: StaticString = byte == UInt8(ascii: "S") ? "S" : byte == UInt8(ascii: "G") ? "G" : "N"
        add(name)
        if byte != UInt8(ascii: "N") { encrypted = true }
    }

    /// This piece as a recorded message; its facts are reset for the next piece.
    mutating func message(raw: ByteBuffer, isClient: Bool, ending: PostgresEnding?) -> DecodedMessage {
        var fields: [MessageField] = []
        fields.reserveCapacity(8)
        if let list = names.finish() { fields.append(MessageField("messages", .text(list))) }
        if isClient {
            if let statement { fields.append(MessageField("statement", .text(statement))) }
            if let parameters { fields.append(MessageField("parameters", .integer(Int64(parameters)))) }
            if let user { fields.append(MessageField("user", .text(user))) }
            if let database { fields.append(MessageField("database", .text(database))) }
            if let mechanism { fields.append(MessageField("mechanism", .text(mechanism))) }
        } else {
            if let tag { fields.append(MessageField("tag", .text(tag))) }
            if sawRows { fields.append(MessageField("rows", .integer(Int64(rows)))) }
            if let sqlstate { fields.append(MessageField("sqlstate", .text(sqlstate))) }
            if let severity { fields.append(MessageField("severity", .text(severity))) }
            if let error { fields.append(MessageField("error", .text(error))) }
            if let transaction { fields.append(MessageField("transaction", .text(transaction))) }
            if let encrypted, ending == .answer(UInt8(ascii: "G")) {
                fields.append(MessageField("gssenc", .bool(encrypted)))
            } else if let encrypted {
                fields.append(MessageField("tls", .bool(encrypted)))
            }
        }
        if continuation { fields.append(MessageField("continuation", .bool(true))) }
        let exchange = ending.flatMap { isClient ? requestPart($0) : responsePart($0) }
        let message = DecodedMessage(raw: raw, verb: verb.map(string), fields: fields, exchange: exchange)
        // Reset in place: this runs once a turn, on the hot path.
        names = PostgresNameList()
        verb = nil
        if statement != nil { statement = nil }
        parameters = nil
        if user != nil { user = nil }
        if database != nil { database = nil }
        if mechanism != nil { mechanism = nil }
        if tag != nil { tag = nil }
        rows = 0
        sawRows = false
        if sqlstate != nil { sqlstate = nil }
        if severity != nil { severity = nil }
        if error != nil { error = nil }
        if transaction != nil { transaction = nil }
        encrypted = nil
        if ending != nil {
            continuation = false
            turnVerb = nil
            if turnStatement != nil { turnStatement = nil }
            if turnTag != nil { turnTag = nil }
            if turnSqlstate != nil { turnSqlstate = nil }
            lastName = ""
        } else {
            continuation = true
        }
        return message
    }

    private func requestPart(_ ending: PostgresEnding) -> ExchangePart? {
        switch ending {
        case .message(UInt8(ascii: "Q")), .message(UInt8(ascii: "S")):
            let method = turnStatement.flatMap(Self.statementKind) ?? turnVerb.map(string)
            return .request(method: method, target: turnStatement.map { String($0.prefix(PostgresProtocol.maxTargetCharacters)) })
        case .message(UInt8(ascii: "F")):
            return .request(method: "FunctionCall", target: nil)
        case .message(UInt8(ascii: "p")):
            return .request(method: "AUTH", target: nil)
        case .startup:
            return .request(method: "STARTUP", target: "\(user ?? "")@\(database ?? user ?? "")")
        case .sslRequest:
            return .request(method: "SSLRequest", target: nil)
        case .gssencRequest:
            return .request(method: "GSSENCRequest", target: nil)
        default:
            return nil
        }
    }

    private func responsePart(_ ending: PostgresEnding) -> ExchangePart? {
        let outcome = turnTag ?? (turnSqlstate != nil ? "ErrorResponse" : string(lastName))
        switch ending {
        case .message(UInt8(ascii: "Z")), .message(UInt8(ascii: "R")):
            return .response(status: nil, outcome: outcome, error: turnSqlstate)
        case .message(UInt8(ascii: "G")), .message(UInt8(ascii: "W")):
            return .interim
        case .answer:
            return .response(status: nil, outcome: string(lastName), error: nil)
        case .eof:
            // A FATAL error before the server closed (a failed startup or authentication).
            return turnSqlstate.map { .response(status: nil, outcome: outcome, error: $0) }
        default:
            return nil
        }
    }

    private mutating func setStatement(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) {
        let sql = text(bytes, range, maxBytes: PostgresProtocol.maxStatementBytes)
        turnStatement = sql
        if statement == nil { statement = sql }
    }

    /// ErrorResponse fields: C (SQLSTATE), M (message), V or S (severity).
    private mutating func readError(_ bytes: UnsafeRawBufferPointer, _ body: Range<Int>) {
        var at = body.lowerBound
        var localized: String?
        while at < body.upperBound, bytes[at] != 0 {
            let code = bytes[at]
            let valueStart = at + 1
            let valueEnd = cStringEnd(bytes, valueStart..<body.upperBound) ?? body.upperBound
            switch code {
            case UInt8(ascii: "C"): sqlstate = text(bytes, valueStart..<valueEnd, maxBytes: 16)
            case UInt8(ascii: "M"): error = text(bytes, valueStart..<valueEnd, maxBytes: PostgresProtocol.maxErrorBytes)
            case UInt8(ascii: "V"): severity = text(bytes, valueStart..<valueEnd, maxBytes: 16)
            case UInt8(ascii: "S"): localized = text(bytes, valueStart..<valueEnd, maxBytes: 16)
            default: break
            }
            at = valueEnd + 1
        }
        if severity == nil { severity = localized }
        if let sqlstate { turnSqlstate = sqlstate }
    }

    /// Bind: portal, statement, format codes, then the parameter count.
    private func bindParameterCount(_ bytes: UnsafeRawBufferPointer, _ body: Range<Int>) -> Int? {
        guard let portalEnd = cStringEnd(bytes, body),
              let statementEnd = cStringEnd(bytes, (portalEnd + 1)..<body.upperBound) else { return nil }
        var at = statementEnd + 1
        guard at + 2 <= body.upperBound else { return nil }
        let formats = Int(bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self).bigEndian)
        at += 2 + 2 * formats
        guard at + 2 <= body.upperBound else { return nil }
        return Int(bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self).bigEndian)
    }

    static func authenticationName(_ code: Int) -> StaticString {
        switch code {
        case 0: return "AuthenticationOk"
        case 2: return "AuthenticationKerberosV5"
        case 3: return "AuthenticationCleartextPassword"
        case 5: return "AuthenticationMD5Password"
        case 7: return "AuthenticationGSS"
        case 8: return "AuthenticationGSSContinue"
        case 9: return "AuthenticationSSPI"
        case 10: return "AuthenticationSASL"
        case 11: return "AuthenticationSASLContinue"
        case 12: return "AuthenticationSASLFinal"
        default: return "Authentication"
        }
    }

    /// The first SQL keyword, upper-cased, past blanks, parentheses and comments.
    static func statementKind(_ sql: String) -> String? {
        let utf8 = Array(sql.utf8.prefix(PostgresProtocol.maxStatementBytes))
        var at = 0
        while at < utf8.count {
            let byte = utf8[at]
            if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0C || byte == UInt8(ascii: "(") || byte == UInt8(ascii: ";") {
                at += 1
            } else if byte == UInt8(ascii: "-"), at + 1 < utf8.count, utf8[at + 1] == UInt8(ascii: "-") {
                while at < utf8.count && utf8[at] != 0x0A { at += 1 }
            } else if byte == UInt8(ascii: "/"), at + 1 < utf8.count, utf8[at + 1] == UInt8(ascii: "*") {
                at += 2
                while at + 1 < utf8.count && !(utf8[at] == UInt8(ascii: "*") && utf8[at + 1] == UInt8(ascii: "/")) { at += 1 }
                at += 2
            } else {
                break
            }
        }
        var keyword: [UInt8] = []
        while at < utf8.count, keyword.count < 32 {
            let byte = utf8[at]
            if byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") {
                keyword.append(byte - 0x20)
            } else if (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || byte == UInt8(ascii: "_") {
                keyword.append(byte)
            } else {
                break
            }
            at += 1
        }
        return keyword.isEmpty ? nil : String(decoding: keyword, as: UTF8.self)
    }
}

/// Message type names in order, consecutive repeats compressed: `Bind,Execute×3,Sync`; past
/// `maxBytes` the list ends in `,…` (a pipeline of thousands of Bind/Execute pairs).
struct PostgresNameList {
    static let maxBytes = 512
    private var text = ""
    private var last: StaticString = ""
    private var count = 0
    private var full = false

    mutating func add(_ name: StaticString) {
        if count > 0 && name.utf8Start == last.utf8Start {
            count += 1
            return
        }
        flush()
        last = name
        count = 1
    }

    mutating func finish() -> String? {
        flush()
        return text.isEmpty ? nil : text
    }

    private mutating func flush() {
        guard count > 0, !full else { return }
        if text.utf8.count >= Self.maxBytes {
            text += ",…"
            full = true
            return
        }
        if text.isEmpty { text.reserveCapacity(64) } else { text += "," }
        text += string(last)
        if count > 1 {
            text += "×"
            text += String(count)
        }
        count = 0
    }
}

/// A name as a String (short ones, as most are, without allocating).
@inline(__always)
private func string(_ name: StaticString) -> String {
    name.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
}

/// The index of the NUL ending the C string that starts `range`, or nil when there is none in it.
@inline(__always)
private func cStringEnd(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
    guard !range.isEmpty, range.upperBound <= bytes.count, let base = bytes.baseAddress,
          let hit = memchr(base + range.lowerBound, 0, range.count) else { return nil }
    return UnsafeRawPointer(hit) - base
}

/// At most `maxBytes` of `range` as lossy UTF-8, cut back to a character boundary.
private func text(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, maxBytes: Int) -> String {
    guard !range.isEmpty, range.upperBound <= bytes.count else { return "" }
    var end = range.upperBound
    if range.count > maxBytes {
        end = range.lowerBound + maxBytes
        var back = end
        while back > range.lowerBound && bytes[back] & 0xC0 == 0x80 { back -= 1 }
        if back > range.lowerBound { end = back }
    }
    guard let base = bytes.baseAddress else { return "" }
    let start = base.advanced(by: range.lowerBound).assumingMemoryBound(to: UInt8.self)
    return String(decoding: UnsafeBufferPointer(start: start, count: end - range.lowerBound), as: UTF8.self)
}

private func equals(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ literal: StaticString) -> Bool {
    guard range.count == literal.utf8CodeUnitCount else { return false }
    let expected = UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
    return zip(bytes[range], expected).allSatisfy { $0 == $1 }
}
