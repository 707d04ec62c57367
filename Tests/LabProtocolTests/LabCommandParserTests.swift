import LabProtocol
import Testing

/// Parses a whole stream; returns every complete command with its raw bytes.
private func commands(_ text: String, flush: Bool = false) -> [(LabCommand, [UInt8])] {
    commands(Array(text.utf8), flush: flush)
}

private func commands(_ bytes: [UInt8], flush: Bool = false) -> [(LabCommand, [UInt8])] {
    var splitter = LineSplitter(maxLineLength: 1024)
    var parser = LabCommandParser()
    var result: [(LabCommand, [UInt8])] = []
    let take: (LinePiece) -> Void = { piece in
        parser.parse(piece) { step in
            if case .command(let command, let raw) = step { result.append((command, Array(raw))) }
        }
    }
    bytes.withUnsafeBytes { splitter.feed($0, take) }
    if flush { splitter.flush(take) }
    return result
}

private func payload(_ entry: (LabCommand, [UInt8])) -> String? {
    entry.0.payloadRange.map { String(decoding: entry.1[$0], as: UTF8.self) }
}

@Suite struct LabCommandParserTests {
    @Test func recognisesEachVerbCaseInsensitively() {
        let parsed = commands("HELO\nhelo there\nQuit\nDATA x\ndAtA y\n")
        #expect(parsed.map(\.0.verb) == [.helo, .helo, .quit, .data, .data])
        #expect(parsed.map(\.0.verbText) == ["HELO", "helo", "Quit", "DATA", "dAtA"])
        #expect(parsed.map(\.0.reply) == [.ok, .ok, .bye, .dataReceived, .dataReceived])
    }

    @Test func inlineDataPayload() {
        let parsed = commands("DATA hello world\r\n")
        #expect(parsed.count == 1)
        #expect(payload(parsed[0]) == "hello world")
        #expect(parsed[0].1 == Array("DATA hello world\r\n".utf8))
    }

    @Test func dataWithATrailingSpaceIsAnEmptyInlinePayload() {
        let parsed = commands("DATA \nHELO\n")
        #expect(parsed.map(\.0.verb) == [.data, .helo])
        #expect(payload(parsed[0]) == "")
    }

    @Test func bareDataTakesTheNextLineAsPayload() {
        let parsed = commands("DATA\r\nHELO is data here\nQUIT\n")
        #expect(parsed.count == 2)
        #expect(parsed[0].0.verb == .data)
        #expect(payload(parsed[0]) == "HELO is data here")
        #expect(parsed[0].1 == Array("DATA\r\nHELO is data here\n".utf8))
        #expect(parsed[1].0.verb == .quit)
    }

    @Test func bareDataAcceptsAnEmptyPayloadLine() {
        let parsed = commands("DATA\n\n")
        #expect(parsed.count == 1)
        #expect(payload(parsed[0]) == "")
    }

    @Test func anythingElseIsABadCommand() {
        let parsed = commands("USER bob\n\nDATAX\nHEL\nHELOO\n\u{1B}[2J\n")
        #expect(parsed.allSatisfy { $0.0.verb == .unknown && $0.0.reply == .badCommand })
        #expect(parsed.count == 6)
        #expect(parsed.map(\.0.verbText) == ["USER", nil, "DATAX", "HEL", "HELOO", nil])
    }

    @Test func binaryPayloadIsKeptExactly() {
        var bytes = Array("DATA ".utf8)
        let binary: [UInt8] = (0...255).map(UInt8.init).filter { $0 != 0x0A }
        bytes += binary + [0x0A]
        let parsed = commands(bytes)
        #expect(parsed.count == 1)
        // A CR right before the LF would be taken as part of CRLF; 0x0D is not last here.
        #expect(Array(parsed[0].1[parsed[0].0.payloadRange!]) == binary)
    }

    @Test func unterminatedCommandsCompleteOnFlush() {
        let parsed = commands("DATA hello world", flush: true)
        #expect(parsed.count == 1)
        #expect(payload(parsed[0]) == "hello world")
    }

    @Test func aBareDataWithoutPayloadAtTheEndIsReportedByFinish() {
        var parser = LabCommandParser()
        var splitter = LineSplitter(maxLineLength: 64)
        Array("DATA\n".utf8).withUnsafeBytes { bytes in
            splitter.feed(bytes) { piece in parser.parse(piece) { _ in } }
        }
        #expect(parser.isAwaitingPayload)
        let finished = parser.finish { command, raw in (command, Array(raw)) }
        #expect(finished?.0.verb == .unknown)
        #expect(finished?.1 == Array("DATA\n".utf8))
        #expect(!parser.isAwaitingPayload)
    }
}

@Suite struct LabReplyTests {
    @Test func defaultBytesAreTheLabs() {
        #expect(LabReply.ok.encoded(lineEnding: nil) == Array("100 OK\n".utf8))
        #expect(LabReply.dataReceived.encoded(lineEnding: nil) == Array("300 DRCV\n".utf8))
        #expect(LabReply.bye.encoded(lineEnding: nil) == Array("200 BYE\n".utf8))
        #expect(LabReply.badCommand.encoded(lineEnding: nil) == Array("400 BCMD\r\nCommand-description: Bad command\r\n".utf8))
    }

    @Test func aLineEndingAppliesToEveryLine() {
        #expect(LabReply.ok.encoded(lineEnding: .crlf) == Array("100 OK\r\n".utf8))
        #expect(LabReply.badCommand.encoded(lineEnding: .lf) == Array("400 BCMD\nCommand-description: Bad command\n".utf8))
    }

    @Test func framerCutsOneAndTwoLineReplies() {
        var framer = ReplyFramer()
        framer.append(Array("100 OK\n400 BCMD\r\nCommand-desc".utf8))
        #expect(framer.next() == Array("100 OK\n".utf8))
        #expect(framer.next() == nil)
        framer.append(Array("ription: Bad command\r\n+PONG\r\n".utf8))
        #expect(framer.next() == Array("400 BCMD\r\nCommand-description: Bad command\r\n".utf8))
        #expect(framer.next() == Array("+PONG\r\n".utf8))
        #expect(framer.next() == nil)
        framer.append(Array("200 B".utf8))
        #expect(framer.takeRemainder() == Array("200 B".utf8))
    }
}

@Suite struct EscapingTests {
    @Test func controlBytesCannotReachTheTerminal() {
        let hostile: [UInt8] = [0x1B] + Array("[2J".utf8) + [0x00, 0x07, 0x7F, 0x0D, 0x0A, 0x09, 0x5C]
        #expect(Escaping.escape(hostile) == "\\x1b[2J\\x00\\x07\\x7f\\r\\n\\t\\\\")
    }

    @Test func validUTF8StaysAndInvalidBytesAreHex() {
        #expect(Escaping.escape(Array("héllo ✓".utf8)) == "héllo ✓")
        #expect(Escaping.escape([0xC3]) == "\\xc3")
        #expect(Escaping.escape([0xFF, 0x41]) == "\\xffA")
        // Overlong encoding of "/" and a UTF-16 surrogate are invalid.
        #expect(Escaping.escape([0xC0, 0xAF]) == "\\xc0\\xaf")
        #expect(Escaping.escape([0xED, 0xA0, 0x80]) == "\\xed\\xa0\\x80")
        // C1 control (CSI) encoded in UTF-8 is still a control.
        #expect(Escaping.escape([0xC2, 0x9B]) == "\\xc2\\x9b")
    }

    /// Two different byte strings must not look alike: every invisible, format, bidi and
    /// separator character is shown as its bytes, the way U+202E always was.
    @Test func invisibleBidiAndSeparatorCharactersAreHex() {
        func bytes(_ scalar: UInt32) -> [UInt8] { Array(String(Unicode.Scalar(scalar)!).utf8) }
        func hex(_ scalar: UInt32) -> String { bytes(scalar).map { "\\x" + String($0, radix: 16) }.joined() }
        let hidden: [UInt32] = [
            0x202E, 0x200F, 0x200E, 0x061C, 0x200B, 0x200C, 0x200D, 0xFEFF, 0x2028, 0x2029, 0x3164, 0x115F,
            0x00AD, 0x2066, 0x00A0, 0x3000, 0xFE0F, 0xE0000, 0xE0001, 0xE0041, 0xE007F,
        ]
        for scalar in hidden {
            #expect(Escaping.escape(Array("a".utf8) + bytes(scalar) + Array("b".utf8)) == "a" + hex(scalar) + "b",
                    "U+\(String(scalar, radix: 16, uppercase: true))")
        }
        #expect(Escaping.escape(bytes(0x200F)) == "\\xe2\\x80\\x8f")
        // Visible letters, symbols and ordinary space stay as they are.
        #expect(Escaping.escape(Array("Grüße ✓ 日本 ك a b".utf8)) == "Grüße ✓ 日本 ك a b")
    }
}

@Suite struct LongReplyFramingTests {
    /// A reply arriving in many pieces is framed once whole, however many pieces it took.
    @Test func aLongLineInManyPiecesIsOneReply() {
        var framer = ReplyFramer()
        for _ in 0..<1_000 {
            framer.append(Array(repeating: UInt8(ascii: "x"), count: 1_000))
            #expect(framer.next() == nil)
        }
        #expect(framer.bufferedByteCount == 1_000_000)
        framer.append(Array("\n400 BCMD\r\n".utf8))
        #expect(framer.next()?.count == 1_000_001)
        #expect(framer.next() == nil)
        framer.append(Array("Command-description: x\r\n100 OK\n".utf8))
        #expect(framer.next() == Array("400 BCMD\r\nCommand-description: x\r\n".utf8))
        #expect(framer.next() == Array("100 OK\n".utf8))
    }
}
