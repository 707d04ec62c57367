import Recording
import Testing

/// The presets read what a protocol decoder says where it is more precise than the bytes alone:
/// `http-auth` looks only at a decoded HTTP message's head, `postgres-password` at every password
/// or SASL message of a decoded PostgreSQL turn, wherever it stands. Undecoded, both work as before.
@Suite struct DecodedRedactionTests {
    static func redacted(_ preset: RedactionPreset, _ raw: [UInt8], fields: [MessageField] = []) throws -> [UInt8] {
        let redactor = Redactor(rules: preset.rules(), key: Array(repeating: 3, count: 32))
        var message = RecordedMessage(seq: 1, atMicros: 0, sender: .client, raw: raw, fields: fields)
        var state = RedactionState()
        redactor.redact(&message, state: &state)
        return message.raw
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func httpAuthHidesHeadersNotABodyLineThatLooksLikeOne() throws {
        let head = "POST /notes HTTP/1.1\r\nAuthorization: Bearer s3cret\r\nContent-Length: 26\r\n\r\n"
        let request = Array((head + "Cookie: a recipe for cake\n").utf8)
        let decoded = Self.text(try Self.redacted(.httpAuth, request, fields: [MessageField("body_offset", .integer(Int64(head.utf8.count)))]))
        #expect(!decoded.contains("s3cret"))
        #expect(decoded.hasSuffix("Cookie: a recipe for cake\n"), "the body is the user's text, not a header")
        let undecoded = Self.text(try Self.redacted(.httpAuth, request))
        #expect(!undecoded.contains("s3cret") && !undecoded.contains("recipe"), "bytes alone: every line that looks like a header")
    }

    /// A `p` message after another in one decoded turn is found too (bytes alone, only one at the start).
    @Test func postgresPasswordFindsEveryPasswordMessageOfADecodedTurn() throws {
        func message(_ type: Character, _ body: String) -> [UInt8] {
            let body = Array(body.utf8) + [0]
            let length = UInt32(body.count + 4)
            return [type.asciiValue!] + withUnsafeBytes(of: length.bigEndian, Array.init) + body
        }
        let turn = message("Q", "SELECT 1") + message("p", "hunter2")
        let decoded = try Self.redacted(.postgresPassword, turn, fields: [MessageField("messages", .text("Query,PasswordMessage"))])
        #expect(!Self.text(decoded).contains("hunter2"))
        #expect(Self.text(decoded).contains("SELECT 1"))
        let query = try Self.redacted(.postgresPassword, message("Q", "SELECT 'p'"), fields: [MessageField("messages", .text("Query"))])
        #expect(Self.text(query).contains("SELECT 'p'"), "a turn without a password keeps its bytes")
        #expect(!Self.text(try Self.redacted(.postgresPassword, message("p", "hunter2"))).contains("hunter2"), "undecoded: at the start")
    }
}
