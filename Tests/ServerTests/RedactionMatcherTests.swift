import Recording
import Testing
import TestSupport

/// The presets `lab-data` and `http-auth` find their secrets with hand-written byte matchers; each
/// must store exactly what the regular expression it replaced stored (the same bytes, the same
/// spans), whatever the case, the line ends or the bytes around it.
@Suite struct RedactionMatcherTests {
    static let labDataRegex = #"(?im)^DATA(?:[ \t]([^\r\n]*)|[ \t]*\r?\n([^\r\n]+))"#
    static let httpAuthRegex = #"(?im)^(?:Proxy-)?Authorization:[ \t]*([^\r\n]+)|^(?:Set-)?Cookie:[ \t]*([^\r\n]+)"#

    /// Pieces messages are made of: the keywords in several cases and cut short, blanks, every line
    /// terminator a multiline `^` knows over Latin-1 (LF, VT, FF, CR, NEL 0x85), and binary bytes.
    static let separators: [[UInt8]] = [
        [0x20], [0x09], [0x0d], [0x0a], [0x0d, 0x0a], [0x0b], [0x0c], [0x85], [0x00], [0xff], [0xdf], [0xb5],
        Array("x".utf8), Array("s3cr=t".utf8),
    ]
    static let labPieces = separators + [
        "DATA", "data", "DaTa", "DAT", "ATA", "XDATA", "DATA ", "\nDATA", "\nDATA\t", "DATA\r\n", "\ndata\n",
    ].map { Array($0.utf8) }
    static let httpPieces = separators + [
        "Authorization:", "authorization:", "AUTHORIZATION:", "Authorization", "Proxy-", "proxy-", "Set-", "SET-",
        "Cookie:", "cookie:", "COOKIE:", "Cookie", "Proxy-Authorization:", "Set-Cookie:", "Xcookie:",
        "\r\nCookie: ", "\nAuthorization: ", "\r\nset-cookie:",
    ].map { Array($0.utf8) }

    @Test func labDataStoresWhatItsRegexStored() throws {
        let cases = [
            "DATA secret", "DATA", "DATA ", "DATA\n", "DATA\nnext line\n", "DATA\r\nnext\r\n", "DATA\r\r\nx", "data\tx\r\n",
            "HELO\nDATA one\nDATA two", "xDATA no", "DATA\n\nno", "DATA \nnot this", "DaTa\u{b}DATA y", "DATA x\u{85}DATA y\nDATA z",
        ].map { Array($0.utf8) } + [[0x85] + Array("DATA after-nel".utf8), [0x0c] + Array("data\n".utf8) + [0xff, 0x00, 0x80]]
        try expectSameAsRegex(RedactionPreset.labData.rules(), Self.labDataRegex,
                              messages: cases + Self.generated(from: Self.labPieces, count: 3000, seed: 16))
    }

    @Test func httpAuthStoresWhatItsRegexStored() throws {
        let cases = [
            "GET / HTTP/1.1\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\nCookie: a=1; b=2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nSet-Cookie: sid=42; HttpOnly\r\nset-cookie:x\r\n", "Proxy-Authorization: Bearer t",
            "Cookie:", "Cookie: ", "Cookie:  \r\n", "Authorization:\t\tv", "Proxy-Cookie: no", "X-Authorization: no",
            "PROXY-AUTHORIZATION:secret", "Set-Cookie:\r\nCookie: two", "cookie: a\u{b}Cookie: b",
        ].map { Array($0.utf8) } + [Array("Cookie: ".utf8) + [0x00, 0xff, 0x80], [0x85] + Array("cookie:v".utf8)]
        try expectSameAsRegex(RedactionPreset.httpAuth.rules(), Self.httpAuthRegex,
                              messages: cases + Self.generated(from: Self.httpPieces, count: 3000, seed: 17))
    }

    /// Each message, redacted alone by the preset and by a rule with the regex, is stored alike.
    private func expectSameAsRegex(_ preset: [RedactionRule], _ pattern: String, messages: [[UInt8]]) throws {
        let key = Array(repeating: UInt8(9), count: 32)
        let byPreset = Redactor(rules: preset, key: key)
        let byRegex = Redactor(rules: [try RedactionRule(name: "regex", pattern: pattern)], key: key)
        let hidden = Self.expectStoredAlike(byPreset, byRegex, messages: messages)
        // The generated messages exercise the matcher: many hide something, many nothing.
        #expect(hidden > messages.count / 10)
        #expect(messages.filter { raw in
            var message = RecordedMessage(seq: 1, atMicros: 0, sender: .client, raw: raw)
            var state = RedactionState()
            byRegex.redact(&message, state: &state)
            return message.redactions.isEmpty
        }.count > messages.count / 10)
    }

    /// Each message, redacted alone by each redactor (from `sender`, by the message's number), is
    /// stored alike: the same bytes, spans at the same places. Returns how many spans were hidden.
    static func expectStoredAlike(_ first: Redactor, _ second: Redactor, messages: [[UInt8]],
                                  sender: (Int) -> Sender = { _ in .client }) -> Int {
        var hidden = 0
        for (number, raw) in messages.enumerated() {
            var byFirst = RecordedMessage(seq: 1, atMicros: 0, sender: sender(number), raw: raw)
            var bySecond = byFirst
            var firstState = RedactionState()
            var secondState = RedactionState()
            first.redact(&byFirst, state: &firstState)
            second.redact(&bySecond, state: &secondState)
            #expect(byFirst.raw == bySecond.raw, "\(raw)")
            #expect(byFirst.redactions.map(\.offset) == bySecond.redactions.map(\.offset), "\(raw)")
            #expect(byFirst.redactions.map(\.length) == bySecond.redactions.map(\.length), "\(raw)")
            hidden += bySecond.redactions.count
        }
        return hidden
    }

    /// `count` messages of up to 10 pieces each, the same for the same seed.
    static func generated(from pieces: [[UInt8]], count: Int, seed: UInt64) -> [[UInt8]] {
        let choices = randomBytes(count * 11, seed: seed).map(Int.init)
        return (0..<count).map { message in
            let picks = choices[message * 11..<message * 11 + 11]
            return picks.dropFirst().prefix(picks.first! % 11).flatMap { pieces[$0 % pieces.count] }
        }
    }
}
