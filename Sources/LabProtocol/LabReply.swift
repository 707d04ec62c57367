/// How reply lines end on the wire.
public enum LineEnding: String, Sendable, CaseIterable {
    case lf, crlf

    public var bytes: [UInt8] { self == .lf ? [0x0A] : [0x0D, 0x0A] }
}

/// A server reply. A 4xx reply is always two lines (status, then `Command-description:`),
/// every other reply one line, so a client can frame replies by their first digit.
public enum LabReply: Sendable, Equatable {
    case ok                       // 100 OK
    case dataReceived             // 300 DRCV
    case bye                      // 200 BYE
    case badCommand               // 400 BCMD, Bad command
    case lineTooLong(limit: Int)  // 400 BCMD, the line passed the limit
    case notRecorded              // 451 NREC: storage failed, the command was not acknowledged
    case busy(limit: Int)         // 503 BUSY: over the connection limit (one line, then close)

    public var code: Int {
        switch self {
        case .ok: 100
        case .dataReceived: 300
        case .bye: 200
        case .badCommand, .lineTooLong: 400
        case .notRecorded: 451
        case .busy: 503
        }
    }

    var lines: [String] {
        switch self {
        case .ok: ["100 OK"]
        case .dataReceived: ["300 DRCV"]
        case .bye: ["200 BYE"]
        case .badCommand: ["400 BCMD", "Command-description: Bad command"]
        case .lineTooLong(let limit):
            ["400 BCMD", "Command-description: Line too long (limit \(limit) bytes), closing connection"]
        case .notRecorded:
            ["451 NREC", "Command-description: Server storage error, command not acknowledged, try again later"]
        case .busy(let limit): ["503 BUSY too many connections (limit \(limit)), try again later"]
        }
    }

    /// The reply's bytes. With no `lineEnding` they are the lab's own: LF after one-line
    /// replies, CRLF after each line of a two-line 4xx reply.
    public func encoded(lineEnding: LineEnding?) -> [UInt8] {
        let ending = lineEnding ?? (lines.count > 1 ? .crlf : .lf)
        var bytes: [UInt8] = []
        for line in lines {
            bytes += Array(line.utf8) + ending.bytes
        }
        return bytes
    }

    /// How many lines a reply starting with `statusCode` has: two for 4xx, one otherwise.
    public static func lineCount(statusCode: Int) -> Int { (400..<500).contains(statusCode) ? 2 : 1 }

    /// The status code at the start of a reply line ("300 DRCV" → 300), if it has one.
    public static func statusCode(of line: some Collection<UInt8>) -> Int? {
        var code = 0
        var digits = 0
        for byte in line.prefix(3) {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            code = code * 10 + Int(byte - UInt8(ascii: "0"))
            digits += 1
        }
        return digits == 3 ? code : nil
    }
}

/// The reply bytes a server sends, encoded once for its line-ending setting.
public struct LabReplies: Sendable {
    public let ok: [UInt8]
    public let dataReceived: [UInt8]
    public let bye: [UInt8]
    public let badCommand: [UInt8]
    public let lineEnding: LineEnding?

    public init(lineEnding: LineEnding?) {
        self.lineEnding = lineEnding
        ok = LabReply.ok.encoded(lineEnding: lineEnding)
        dataReceived = LabReply.dataReceived.encoded(lineEnding: lineEnding)
        bye = LabReply.bye.encoded(lineEnding: lineEnding)
        badCommand = LabReply.badCommand.encoded(lineEnding: lineEnding)
    }

    public func bytes(for reply: LabReply) -> [UInt8] {
        switch reply {
        case .ok: ok
        case .dataReceived: dataReceived
        case .bye: bye
        case .badCommand: badCommand
        default: reply.encoded(lineEnding: lineEnding)
        }
    }
}
