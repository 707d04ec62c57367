import NIOCore
import Protocols
import Recording
import Testing

/// The SMTP decoder: commands, replies (multi-line ones whole), AUTH responses and DATA bodies.
@Suite struct SMTPTests {
    let harness = DecoderHarness(proto: SMTPProtocol.self)

    static let replies = "220 mx.test ESMTP ready\r\n250-mx.test Hello\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n"
        + "334 VXNlcm5hbWU6\r\n235 2.7.0 Authentication successful\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
        + "250 2.0.0 OK queued\r\n550 5.1.1 <nobody@test>: Recipient address rejected\r\n221 Bye\r\n"
    static let commands = "EHLO client.test\r\nMAIL FROM:<alice@test> SIZE=100\r\nRCPT TO:<bob@test>\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
        + "NOOP\r\nBDAT 5 LAST\r\nhelloQUIT\r\n"

    private func field(_ cut: Cut, _ name: String) -> FieldValue? { cut.fields.first { $0.name == name }?.value }

    @Test func repliesAreCutWholeAndTheSameHoweverTheReadsFall() {
        let cuts = harness.expectResplitInvariant(Array(Self.replies.utf8), .server)
        #expect(cuts.map(\.code) == [220, 250, 334, 235, 354, 250, 550, 221])
        #expect(field(cuts[1], "lines") == .integer(4))
        #expect(field(cuts[3], "enhanced") == .text("2.7.0") && field(cuts[3], "text") == .text("Authentication successful"))
        #expect(cuts.allSatisfy { $0.error == nil })
    }

    @Test func commandsCarryTheirArgumentsButNeverACredential() {
        let cuts = harness.expectResplitInvariant(Array(Self.commands.utf8), .client)
        #expect(cuts.map(\.verb) == ["EHLO", "MAIL", "RCPT", "AUTH", "NOOP", "BDAT", nil, "QUIT"])
        #expect(field(cuts[0], "domain") == .text("client.test"))
        #expect(field(cuts[1], "address") == .text("alice@test") && field(cuts[2], "address") == .text("bob@test"))
        #expect(cuts[3].fields == [MessageField("command", .text("AUTH")), MessageField("mechanism", .text("PLAIN"))])
        #expect(field(cuts[5], "size") == .integer(5) && field(cuts[5], "last") == .bool(true))
        #expect(cuts[6].text == "hello")
    }

    @Test func aConversationPairsRepliesWithCommandsThroughAuthAndData() {
        let turns: [(Sender, String)] = [
            (.server, "220 mx.test ESMTP\r\n"), (.client, "EHLO c\r\n"),
            (.server, "250-mx.test\r\n250-AUTH LOGIN\r\n250 STARTTLS\r\n"), (.client, "AUTH LOGIN\r\n"),
            (.server, "334 VXNlcm5hbWU6\r\n"), (.client, "YWxpY2U=\r\n"), (.server, "334 UGFzc3dvcmQ6\r\n"),
            (.client, "c2VjcmV0\r\n"), (.server, "235 ok\r\n"), (.client, "DATA\r\n"), (.server, "354 go\r\n"),
            (.client, "Subject: hi\r\n\r\nQUIT\r\n..dot\r\n.\r\n"), (.server, "250 queued\r\n"), (.client, "QUIT\r\n"), (.server, "221 bye\r\n"),
        ]
        let cuts = harness.conversation(turns.map { ($0.0, Array($0.1.utf8)) })
        #expect(cuts.map { $0.1.text } == turns.map(\.1))
        #expect(cuts[0].1.exchange == nil)  // the greeting answers nothing
        #expect(field(cuts[2].1, "extensions") == .text("AUTH STARTTLS"))
        #expect(cuts[4].1.exchange == .interim && cuts[6].1.exchange == .interim)
        #expect(cuts[5].1.verb == nil && cuts[5].1.fields.isEmpty && cuts[7].1.fields.isEmpty)
        #expect(cuts[8].1.exchange == .response(status: 235, outcome: "235", error: nil))
        #expect(cuts[10].1.exchange == .interim)
        // The body, with a QUIT line in it, is one message and no command.
        #expect(cuts[11].1.verb == nil && field(cuts[11].1, "body_end") == .bool(true))
        #expect(cuts[12].1.exchange == .response(status: 250, outcome: "250", error: nil))
        #expect(cuts[13].1.verb == "QUIT")
    }

    @Test func aLongBodyComesInPiecesCutWhereTheCountSays() {
        var small = harness
        small.limits = DecoderLimits(maxLineLength: 64, maxMessageBytes: 32)
        let body = String(repeating: "0123456789\r\n", count: 10) + ".\r\n"
        let cuts = small.conversation([(.client, Array("DATA\r\n".utf8)), (.server, Array("354 go\r\n".utf8)), (.client, Array(body.utf8))])
        let pieces = cuts.dropFirst(2).map(\.1)
        #expect(pieces.map(\.raw.count) == [32, 32, 32, 27])
        #expect(pieces.dropFirst().allSatisfy { field($0, "continuation") == .bool(true) })
        #expect(field(pieces.last!, "body_end") == .bool(true))
    }

    @Test func garbageIsRecordedAndNothingIsLost() {
        let cuts = harness.decode("HTTP/1.1 200 OK\r\n250 fine\r\n", .server)
        #expect(cuts.first?.error?.hasPrefix("not an SMTP reply line") == true)
        harness.expectSurvivesGarbage(seedCorpus: [Array(Self.replies.utf8)], .server)
        harness.expectSurvivesGarbage(seedCorpus: [Array(Self.commands.utf8)], .client)
    }

    @Test func theGreetingTellsSMTPFromFTP() {
        #expect(SMTPProtocol.recognise(greeting: ByteBuffer(string: "220 mx.test ESMTP Postfix\r\n").readableBytesView) == .yes)
        #expect(SMTPProtocol.recognise(greeting: ByteBuffer(string: "220 ProFTPD Server ready\r\n").readableBytesView) == .no)
        #expect(WireProtocols.detect(greeting: ByteBuffer(string: "220-mx.test Python SMTP 1.4\r\n").readableBytesView).name == SMTPProtocol.name)
    }
}
