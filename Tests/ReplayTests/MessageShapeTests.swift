import Replay
import Testing

/// Messages by field, and the rules that leave fields out: what the mock matches and replay compares.
@Suite struct MessageShapeTests {
    private func http(_ text: String) throws -> MessageShape {
        try #require(MessageShape.httpRequest(Array(text.utf8)))
    }

    @Test func httpRequestsMatchWhateverTheirQueryOrderHeadersAndJSONSpacing() throws {
        let recorded = try http("POST /orders?a=1&b=2 HTTP/1.1\r\nHost: x\r\nX-Id: 1\r\nContent-Length: 20\r\n\r\n{\"qty\":2,\"name\":\"x\"}")
        let asked = try http("POST /orders?b=2&a=1 HTTP/1.1\r\nX-Id: 2\r\nTransfer-Encoding: chunked\r\n\r\n19\r\n{ \"name\": \"x\", \"qty\": 2 }\r\n0\r\n\r\n")
        #expect(recorded.matchKey(MatchRules()) == asked.matchKey(MatchRules()))
        #expect(recorded["$.qty"] == "2")
        #expect(recorded["header x-id"] == "1")
        let other = try http("POST /orders?a=1&b=3 HTTP/1.1\r\n\r\n")
        #expect(recorded.differences(from: other, rules: MatchRules(), includeHeaders: false).map(\.name) == ["query b", "$.name", "$.qty"])
    }

    @Test func rulesLeaveOutHeadersQueryParametersAndJSONPaths() throws {
        var rules = MatchRules()
        rules.ignoreQuery("ts")
        rules.ignoreJSON(try JSONPath("$.items[*].id"))
        let one = try http("PUT /a?ts=1 HTTP/1.1\r\nContent-Length: 35\r\n\r\n{\"items\":[{\"id\":1,\"n\":5},{\"id\":2}]}")
        let two = try http("PUT /a?ts=9 HTTP/1.1\r\nContent-Length: 35\r\n\r\n{\"items\":[{\"id\":7,\"n\":5},{\"id\":8}]}")
        #expect(one.matchKey(rules) == two.matchKey(rules))
        #expect(one.matchKey(MatchRules()) != two.matchKey(MatchRules()))
    }

    @Test func respCommandsArePutInWordsWhetherInlineOrMultibulk() throws {
        let multibulk = try #require(MessageShape.respCommand(Array("*3\r\n$3\r\nset\r\n$1\r\nk\r\n$2\r\nv1\r\n".utf8)))
        let inline = try #require(MessageShape.respCommand(Array("SET k v1\r\n".utf8)))
        #expect(multibulk == inline)
        #expect(multibulk.fields.map(\.name) == ["command", "argument 1", "argument 2"])
        #expect(MessageShape.respCommand(Array("*2\r\n$9\r\nshort\r\n".utf8)) == nil)
    }

    @Test func postgresTurnsAreKnownByStatementAndParametersNotByNames() {
        func message(_ type: Character, _ body: [UInt8]) -> [UInt8] {
            let length = body.count + 4
            return [type.asciiValue!, 0, 0, UInt8(length >> 8), UInt8(length & 0xFF)] + body
        }
        let parse = { (name: String, sql: String) in message("P", Array(name.utf8) + [0] + Array(sql.utf8) + [0, 0, 0]) }
        let bind = { (statement: String, value: String) in
            message("B", [0] + Array(statement.utf8) + [0, 0, 0, 0, 1, 0, 0, 0, UInt8(value.utf8.count)] + Array(value.utf8) + [0, 0])
        }
        var recorded = PostgresStatements()
        var asked = PostgresStatements()
        _ = recorded.shape(parse("P0_1", "SELECT a\n  FROM t WHERE id = $1") + message("S", []))
        _ = asked.shape(parse("s1", "SELECT a FROM t  WHERE id = $1") + message("S", []))
        let first = recorded.shape(bind("P0_1", "42") + message("E", [0, 0, 0, 0, 0]) + message("S", []))
        let second = asked.shape(bind("s1", "42") + message("E", [0, 0, 0, 0, 0]) + message("S", []))
        #expect(first == second)
        #expect(first?["statement"] == "SELECT a FROM t WHERE id = $1")
        #expect(first?["parameter 1"] == "42")
        #expect(asked.shape([0x51, 0, 0]) == nil, "a cut message is not a turn")
    }

    @Test func rulesFilesRoundTripAndSayWhereTheyAreWrong() throws {
        let rules = try MatchRules(parsing: "# noise\nignore-header Date\n\nignore-json $.items[*].id\nignore-field row 1 column now\n", source: "r.txt")
        #expect(rules.ignores("header date"))
        #expect(rules.ignores("$.items[3].id"))
        #expect(!rules.ignores("$.items[3].name"))
        #expect(rules.ignores("row 1 column now"))
        #expect(try MatchRules(parsing: rules.fileText, source: "again") == rules)
        #expect(throws: MatchRulesError(place: "r.txt line 2", problem: #"unknown rule "ignore-everything" (rules are ignore-header NAME, ignore-query NAME, ignore-json PATH, ignore-field NAME)"#)) {
            try MatchRules(parsing: "ignore-header a\nignore-everything x\n", source: "r.txt")
        }
        #expect(throws: MatchRulesError(place: "r.txt line 1", problem: #"JSONPath "items.id": a path starts with $"#)) {
            try MatchRules(parsing: "ignore-json items.id", source: "r.txt")
        }
    }

    @Test func postgresRepliesAreRowsTagsAndErrors() throws {
        func message(_ type: Character, _ body: [UInt8]) -> [UInt8] {
            [type.asciiValue!, 0, 0, 0, UInt8(body.count + 4)] + body
        }
        let rowDescription = message("T", [0, 1] + Array("total".utf8) + [0] + Array(repeating: 0, count: 18))
        let row = message("D", [0, 1, 0, 0, 0, 2] + Array("42".utf8))
        let reply = rowDescription + row + message("C", Array("SELECT 1".utf8) + [0]) + message("Z", [UInt8(ascii: "I")])
        let shape = try #require(MessageShape.response(reply, protocolName: "postgres"))
        #expect(shape.fields.map(\.name) == ["row 1 column total", "tag", "transaction"])
        #expect(shape["row 1 column total"] == "42")
    }
}
