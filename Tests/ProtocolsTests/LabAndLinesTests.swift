import NIOCore
import Protocols
import Recording
import Testing

/// lab, lines and raw through the shared stream driver: the cuts the proxy made before the
/// protocol layer, whatever the chunking.
@Suite struct LabAndLinesTests {
    @Test(arguments: [RawProtocol.self, LinesProtocol.self, LabWireProtocol.self] as [any WireProtocol.Type], [Sender.client, .server])
    func messagesConcatenateToTheInputWhateverTheChunking(proto: any WireProtocol.Type, side: Sender) {
        let text = Array("HELO a\nDATA\npayload\r\n400 BCMD\r\nCommand-description: x\r\n" + String(repeating: "z", count: 150) + "\nend")
        let harness = DecoderHarness(proto: proto, limits: DecoderLimits(maxLineLength: 64))
        for size in [1, 2, 7, 64, text.count] {
            let chunks = stride(from: 0, to: text.count, by: size).map { Array(text[$0..<Swift.min($0 + size, text.count)]) }
            #expect(harness.decode(chunks, side).flatMap(\.raw) == text, "chunks of \(size)")
        }
        if proto != RawProtocol.self { harness.expectResplitInvariant(text, side) }
    }

    @Test func linesAreCutAtLFAndAtTheLengthLimit() {
        let harness = DecoderHarness(proto: LinesProtocol.self, limits: DecoderLimits(maxLineLength: 5))
        #expect(harness.decode([Array("a\nbc"), Array("d\n0123456789x\nrest")], .client).map(\.text)
            == ["a\n", "bcd\n", "01234", "56789", "x\n", "rest"])
    }

    @Test func labCommandsCarryVerbAndPayloadLikeServe() {
        let cuts = DecoderHarness(proto: LabWireProtocol.self).decode("HELO x\nDATA one\nDATA\ntwo\r\nFOO\n\nDATA", .client)
        #expect(cuts.map(\.text) == ["HELO x\n", "DATA one\n", "DATA\ntwo\r\n", "FOO\n", "\n", "DATA"])
        #expect(cuts.map(\.verb) == ["HELO", "DATA", "DATA", "FOO", nil, "DATA"])
        #expect(cuts.map { $0.payload.map { String(decoding: $0, as: UTF8.self) } } == [nil, "one", "two", nil, nil, nil])
    }

    @Test func labRepliesKeepTwoLine4xxRepliesTogether() {
        let cuts = DecoderHarness(proto: LabWireProtocol.self).decode(
            [Array("100 OK\n400 BCMD\r\nCommand-"), Array("description: Bad command\r\n200 BYE\nhello\n")], .server)
        #expect(cuts.map(\.text) == ["100 OK\n", "400 BCMD\r\nCommand-description: Bad command\r\n", "200 BYE\n", "hello\n"])
        #expect(cuts.map(\.code) == [100, 400, 200, nil])
    }

    @Test func aQuietPeriodCompletesALineButNotABareDATA() {
        let pair = LabWireProtocol.makeDecoders(limits: DecoderLimits(maxLineLength: 64))
        var stream = MessageStream(decoder: pair.client, limits: DecoderLimits(maxLineLength: 64))
        var texts: [String] = []
        let collect = { (message: DecodedMessage) in texts.append(String(decoding: message.raw.readableBytesView, as: UTF8.self)) }
        stream.feed(ByteBuffer(string: "HELO"), collect)
        #expect(stream.hasPending)
        stream.flush(collect)
        stream.feed(ByteBuffer(string: "DATA\n"), collect)
        stream.flush(collect)
        #expect(texts == ["HELO"])
        stream.feed(ByteBuffer(string: "later"), collect)
        stream.flush(collect)
        #expect(texts == ["HELO", "DATA\nlater"])
    }

    /// SMTP decoded as lab (a decoding that does not fit): odd verbs perhaps, never another order.
    /// The server's 354 answers a bare DATA, which is recorded first, as its bytes came first.
    @Test func aBareDATAAnsweredByTheServerIsRecordedBeforeTheAnswer() {
        let turns: [(Sender, String)] = [
            (.server, "220 mail ESMTP\r\n"), (.client, "MAIL FROM:<a@b>\r\n"), (.server, "250 OK\r\n"),
            (.client, "DATA\r\n"), (.server, "354 End data with <CR><LF>.<CR><LF>\r\n"),
            (.client, "Subject: hi\r\n\r\nbody\r\n.\r\n"), (.server, "250 queued\r\n"), (.client, "QUIT\r\n"),
        ]
        let cuts = DecoderHarness(proto: LabWireProtocol.self).conversation(turns.map { ($0.0, Array($0.1.utf8)) })
        // Each turn's messages, joined, are the turn's bytes, in the turns' order.
        var joined: [(Sender, String)] = []
        for (sender, cut) in cuts {
            if let last = joined.last, last.0 == sender { joined[joined.count - 1].1 += cut.text } else { joined.append((sender, cut.text)) }
        }
        #expect(joined.map(\.0) == turns.map(\.0))
        #expect(joined.map(\.1) == turns.map(\.1))
        #expect(cuts.first { $0.1.text == "DATA\r\n" }?.1.verb == "DATA")
        let payload = cuts.first { $0.1.text == "Subject: hi\r\n" }?.1
        #expect(payload?.verb == nil && payload?.payload == Array("Subject: hi".utf8), "the line after a DATA let out alone is its payload")
    }

    @Test func anOverlongLineAfterABareDATAFollowsIt() {
        let cuts = DecoderHarness(proto: LabWireProtocol.self, limits: DecoderLimits(maxLineLength: 8)).decode("DATA\n0123456789\n", .client)
        #expect(cuts.map(\.text) == ["DATA\n", "01234567", "89\n"])
    }

    @Test func labIsRecognisedByItsVerbsOnly() {
        func recognise(_ text: String) -> Recognition { LabWireProtocol.recognise(ByteBuffer(string: text).readableBytesView) }
        #expect(recognise("HELO\n") == .yes)
        #expect(recognise("data x") == .yes)
        #expect(recognise("HEL") == .needMore)
        #expect(recognise("HELP\n") == .no)
        #expect(recognise("HELOS") == .no)
    }

    @Test func autoPicksRawWhenNothingSaysYes() {
        #expect(WireProtocols.detect(ByteBuffer(string: "\u{16}\u{03}\u{01}").readableBytesView, final: false)?.name == "raw")
        #expect(WireProtocols.detect(ByteBuffer(string: "HE").readableBytesView, final: false) == nil)
        #expect(WireProtocols.detect(ByteBuffer(string: "HE").readableBytesView, final: true)?.name == "raw")
        #expect(WireProtocols.detect(ByteBuffer(string: "QUIT\r\n").readableBytesView, final: false)?.name == "lab")
    }
}
