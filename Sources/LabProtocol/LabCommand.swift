/// The lab protocol's commands, as the server understands them.
public enum LabVerb: Sendable, Equatable {
    case helo, data, quit, unknown
}

/// One complete client command: what the server records and how it answers.
public struct LabCommand: Sendable, Equatable {
    public let verb: LabVerb
    /// The verb exactly as sent (HELO, helo, …); nil for an empty line or a verb that is
    /// not short printable text, which is still stored in the raw bytes.
    public let verbText: String?
    /// Where the DATA payload lies within the command's raw bytes.
    public let payloadRange: Range<Int>?

    public var reply: LabReply {
        switch verb {
        case .helo: .ok
        case .data: .dataReceived
        case .quit: .bye
        case .unknown: .badCommand
        }
    }
}

/// Turns lines into lab commands. `DATA` alone makes the next line its payload, so the
/// parser keeps that one line of state; everything else is a function of one line.
public struct LabCommandParser: Sendable {
    /// A bare `DATA` line waiting for its payload line: its raw bytes and verb as sent.
    private var pendingData: (raw: [UInt8], verbText: String?)?

    public init() {}

    /// True between a bare `DATA` and its payload line.
    public var isAwaitingPayload: Bool { pendingData != nil }

    public enum Step {
        /// A bare DATA: nothing to answer until the payload line comes.
        case awaitingPayload
        /// A complete command. `raw` is every byte of it (both lines for a two-line DATA),
        /// valid only inside the callback.
        case command(LabCommand, raw: UnsafeRawBufferPointer)
    }

    /// Parses one line (content without terminator, raw with it) and hands the outcome to `body`.
    public mutating func parse<T>(_ piece: LinePiece, _ body: (Step) throws -> T) rethrows -> T {
        if let (dataLine, verbText) = pendingData {
            pendingData = nil
            var raw = dataLine
            raw.append(contentsOf: piece.raw)
            let payloadStart = dataLine.count
            let command = LabCommand(
                verb: .data, verbText: verbText, payloadRange: payloadStart..<(payloadStart + piece.content.count))
            return try raw.withUnsafeBytes { try body(.command(command, raw: $0)) }
        }
        let content = piece.content
        let space = content.firstIndex(of: UInt8(ascii: " "))
        let verbBytes = UnsafeRawBufferPointer(rebasing: content[0..<(space ?? content.count)])
        let verb = LabCommandParser.classify(verbBytes)
        let verbText = LabCommandParser.verbText(verbBytes)
        switch verb {
        case .data where space == nil:
            pendingData = (Array(piece.raw), verbText)
            return try body(.awaitingPayload)
        case .data:
            let payloadStart = space! + 1
            let command = LabCommand(verb: .data, verbText: verbText, payloadRange: payloadStart..<content.count)
            return try body(.command(command, raw: piece.raw))
        default:
            return try body(.command(LabCommand(verb: verb, verbText: verbText, payloadRange: nil), raw: piece.raw))
        }
    }

    /// Hands over (and forgets) the bare `DATA` line waiting for its payload, empty when there is
    /// none: when the payload line turns out too long to be a command, the DATA line belongs to it.
    public mutating func takeAwaitingDataLine() -> [UInt8] {
        defer { pendingData = nil }
        return pendingData?.raw ?? []
    }

    /// Ends the stream: a bare DATA whose payload never came is reported as a bad command.
    public mutating func finish<T>(_ body: (LabCommand, UnsafeRawBufferPointer) throws -> T) rethrows -> T? {
        guard let (dataLine, verbText) = pendingData else { return nil }
        pendingData = nil
        let command = LabCommand(verb: .unknown, verbText: verbText, payloadRange: nil)
        return try dataLine.withUnsafeBytes { try body(command, $0) }
    }

    static func classify(_ verb: UnsafeRawBufferPointer) -> LabVerb {
        guard verb.count == 4 else { return .unknown }
        // ASCII upper-casing by clearing bit 5 is safe here: only letters are compared.
        let upper = (UInt32(verb[0] & 0xDF) << 24) | (UInt32(verb[1] & 0xDF) << 16)
            | (UInt32(verb[2] & 0xDF) << 8) | UInt32(verb[3] & 0xDF)
        let isLetters = verb.allSatisfy { (0x41...0x5A).contains($0 & 0xDF) }
        guard isLetters else { return .unknown }
        switch upper {
        case 0x4845_4C4F: return .helo  // HELO
        case 0x4441_5441: return .data  // DATA
        case 0x5155_4954: return .quit  // QUIT
        default: return .unknown
        }
    }

    /// The verb as sent, when it is short printable ASCII.
    static func verbText(_ verb: UnsafeRawBufferPointer) -> String? {
        guard !verb.isEmpty, verb.count <= 32, verb.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
        return String(decoding: verb, as: UTF8.self)
    }
}
