import Protocols
import Recording
import Testing

/// Decoded fields as stored, redaction reaching them, and how exchanges are paired and grouped.
@Suite struct FieldsAndExchangesTests {
    @Test func fieldsSurviveTheirStoredJSONInOrderWhateverTheyHold() {
        let fields = [
            MessageField("method", .text("GET")),
            MessageField("target", .text("/a\"b\\c\n\t\u{1}\u{7F}\u{2028}é🙂")),
            MessageField("status", .integer(-42)),
            MessageField("tls", .bool(true)),
            MessageField("empty", .text("")),
        ]
        let json = fields.jsonText
        #expect(json?.hasPrefix("{\"method\":\"GET\",\"target\":") == true)
        #expect([MessageField](jsonText: json) == fields)
        #expect([MessageField]().jsonText == nil)
        #expect([MessageField](jsonText: nil).isEmpty)
        #expect([MessageField](jsonText: "{\"a\":").isEmpty, "a broken object reads as no fields")
    }

    @Test func aNULInAFieldIsStoredAsTheReplacementCharacter() {
        // PostgreSQL's jsonb refuses \u0000.
        let json = [MessageField("key", .text("a\u{0}b"))].jsonText
        #expect(json == "{\"key\":\"a\u{FFFD}b\"}")
    }

    @Test func aSecretARuleHidesInTheBytesIsHiddenInTheFieldsToo() throws {
        let rule = try RedactionRule(name: "token", pattern: "token=([a-z0-9]+)")
        let redactor = Redactor(rules: [rule], key: Array(repeating: 7, count: 32))
        var message = RecordedMessage(
            seq: 1, atMicros: 0, sender: .client, raw: Array("GET /x?token=s3cr3tvalue HTTP/1.1\r\n\r\n".utf8),
            fields: [MessageField("target", .text("/x?token=s3cr3tvalue")), MessageField("cut", .text("/x?token=s3cr")),
                     MessageField("status", .integer(3))])
        var state = RedactionState()
        redactor.redact(&message, state: &state)
        let token = redactor.token(for: Array("s3cr3tvalue".utf8))
        #expect(message.fields[field: "target"] == .text("/x?token=" + String(decoding: token, as: UTF8.self)))
        #expect(message.fields[field: "cut"] == .text("/x?token="), "a field cut inside the secret loses its start")
        #expect(message.fields[field: "status"] == .integer(3))
        #expect(!String(decoding: message.raw, as: UTF8.self).contains("s3cr3tvalue"))
    }

    @Test func responsesPairWithTheOldestOpenRequest() {
        var pairer = ExchangePairer()
        #expect(pairer.responseEnded(atMicros: 5) == nil, "a server speaking unasked pairs with nothing")
        pairer.requestStarted(seq: 1, atMicros: 100)
        pairer.requestStarted(seq: 2, atMicros: 150)
        #expect(pairer.openCount == 2)
        let first = pairer.responseEnded(atMicros: 400)
        #expect(first?.requestSeq == 1 && first?.durationMicros == 300)
        let second = pairer.responseEnded(atMicros: 100)
        #expect(second?.requestSeq == 2 && second?.durationMicros == 0, "a clock step back reads as no time")
        #expect(pairer.openCount == 0)
    }

    @Test func statsGroupsByMethodAndPathTemplateCommandOrStatementKind() {
        #expect(ExchangeGrouping.group(of: [MessageField("method", .text("GET")), MessageField("target", .text("/users/42/orders?page=2"))], verb: "GET")
            == "GET /users/{id}/orders")
        #expect(ExchangeGrouping.pathTemplate("/o/3f2a9c1e-77aa-4b1d-9a3e-1234567890ab/items/abc") == "/o/{id}/items/abc")
        #expect(ExchangeGrouping.pathTemplate("/") == "/")
        #expect(ExchangeGrouping.group(of: [MessageField("command", .text("SET")), MessageField("key", .text("k"))], verb: "SET") == "SET")
        #expect(ExchangeGrouping.group(of: [MessageField("statement", .text("  select 1"))], verb: "Query") == "SELECT")
        #expect(ExchangeGrouping.group(of: [MessageField("messages", .text("Bind,Execute,Sync"))], verb: "Bind") == "Bind")
    }
}
