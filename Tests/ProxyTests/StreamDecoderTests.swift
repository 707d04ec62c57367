import Recording
import SQLiteBackend
import Testing
@testable import Proxy

/// The decoder on its own: however the bytes are chunked, messages concatenate to the input.
@Suite struct StreamDecoderTests {
    struct Message: Equatable {
        var raw: String
        var verb: String? = nil
        var payload: String? = nil
        var code: Int? = nil
    }

    /// Feeds `chunks`, then `finish`es; returns every message in order.
    func decode(_ chunks: [String], _ decoding: Decoding, _ sender: Sender, maxLine: Int = 64) -> [Message] {
        var decoder = StreamDecoder(decoding: decoding, sender: sender, maxLineLength: maxLine)
        var messages: [Message] = []
        let collect = { (message: DecodedMessage) in
            let raw = Array(message.raw)
            messages.append(Message(
                raw: String(decoding: raw, as: UTF8.self), verb: message.verb,
                payload: message.payloadRange.map { String(decoding: raw[$0], as: UTF8.self) }, code: message.replyCode))
        }
        for chunk in chunks {
            Array(chunk.utf8).withUnsafeBytes { decoder.feed($0, collect) }
        }
        decoder.finish(collect)
        #expect(!decoder.hasPending)
        return messages
    }

    @Test(arguments: [Decoding.raw, .lines, .lab], [Sender.client, .server])
    func messagesConcatenateToTheInputWhateverTheChunking(decoding: Decoding, sender: Sender) {
        let text = "HELO a\nDATA\npayload\r\n400 BCMD\r\nCommand-description: x\r\n" + String(repeating: "z", count: 150) + "\nend"
        for size in [1, 2, 7, 64, text.utf8.count] {
            let bytes = Array(text.utf8)
            let chunks = stride(from: 0, to: bytes.count, by: size).map {
                String(decoding: bytes[$0..<min($0 + size, bytes.count)], as: UTF8.self)
            }
            #expect(decode(chunks, decoding, sender).map(\.raw).joined() == text, "chunks of \(size)")
        }
    }

    @Test func linesAreCutAtLFAndAtTheLengthLimit() {
        #expect(decode(["a\nbc", "d\n0123456789x\nrest"], .lines, .client, maxLine: 5).map(\.raw)
            == ["a\n", "bcd\n", "01234", "56789", "x\n", "rest"])
    }

    @Test func labCommandsCarryVerbAndPayloadLikeServe() {
        #expect(decode(["HELO x\nDATA one\nDATA\ntwo\r\nFOO\n\nDATA"], .lab, .client) == [
            Message(raw: "HELO x\n", verb: "HELO"),
            Message(raw: "DATA one\n", verb: "DATA", payload: "one"),
            Message(raw: "DATA\ntwo\r\n", verb: "DATA", payload: "two"),
            Message(raw: "FOO\n", verb: "FOO"),
            Message(raw: "\n"),
            // A DATA whose payload never came, at the end of the stream.
            Message(raw: "DATA", verb: "DATA"),
        ])
    }

    @Test func labRepliesKeepTwoLine4xxRepliesTogether() {
        #expect(decode(["100 OK\n400 BCMD\r\nCommand-", "description: Bad command\r\n200 BYE\nhello\n"], .lab, .server) == [
            Message(raw: "100 OK\n", code: 100),
            Message(raw: "400 BCMD\r\nCommand-description: Bad command\r\n", code: 400),
            Message(raw: "200 BYE\n", code: 200),
            Message(raw: "hello\n"),
        ])
    }

    @Test func aQuietPeriodCompletesALineButNotABareDATA() {
        var decoder = StreamDecoder(decoding: .lab, sender: .client, maxLineLength: 64)
        var raws: [String] = []
        let collect = { (message: DecodedMessage) in raws.append(String(decoding: Array(message.raw), as: UTF8.self)) }
        Array("HELO".utf8).withUnsafeBytes { decoder.feed($0, collect) }
        #expect(decoder.hasUnterminatedLine)
        decoder.flush(collect)
        Array("DATA\n".utf8).withUnsafeBytes { decoder.feed($0, collect) }
        decoder.flush(collect)
        #expect(raws == ["HELO"])
        #expect(decoder.hasPending && !decoder.hasUnterminatedLine)
        Array("later".utf8).withUnsafeBytes { decoder.feed($0, collect) }
        decoder.flush(collect)
        #expect(raws == ["HELO", "DATA\nlater"])
    }
}
