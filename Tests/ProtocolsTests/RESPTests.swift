import NIOCore
import Protocols
import Recording
import Testing

/// `resp` through the shared stream driver: one message per command and per reply whatever the
/// chunking, pairing through the shared FIFO, pieces for large values, decode errors for bad input.
@Suite struct RESPTests {
    let harness = DecoderHarness(proto: RESPProtocol.self)

    static func command(_ words: String...) -> String {
        "*\(words.count)\r\n" + words.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
    }

    static let pipelined = String(repeating: command("PING"), count: 8) + String(repeating: command("SET", "key:1", "xxx"), count: 8)

    /// Client corpus: arrays, inline commands, an empty line, pipelining, MULTI…EXEC, SUBSCRIBE.
    static let clientCorpus: [String] = [
        command("SET", "mykey", "hello") + command("GET", "mykey"),
        "PING\r\nset foo bar\n\r\n  echo   hi  \r\n\n",
        pipelined,
        command("MULTI") + command("INCR", "n") + command("SET", "a", "b") + command("EXEC"),
        command("SUBSCRIBE", "news", "sport") + command("UNSUBSCRIBE"),
        "*0\r\n*-1\r\n" + command("HSET", "h", "f", "") + command("DEL", "bin\u{01}key"),
    ]

    /// Server corpus: every RESP2 and RESP3 type, nested, with attributes and nulls.
    static let serverCorpus: [String] = [
        "+OK\r\n-ERR unknown command 'FOO'\r\n:1000\r\n:-3\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n",
        "*2\r\n$3\r\nfoo\r\n*2\r\n:1\r\n*1\r\n+deep\r\n",
        "_\r\n,3.14\r\n,inf\r\n#t\r\n#f\r\n!21\r\nSYNTAX invalid syntax\r\n=15\r\ntxt:Some string\r\n(3492890328409238509324850943850943825024385\r\n",
        "%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n:2\r\n~2\r\n:1\r\n:2\r\n~0\r\n",
        "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
        "*2\r\n|1\r\n+ttl\r\n:3600\r\n$1\r\nv\r\n:2\r\n+after\r\n",
        ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n-NOAUTH Authentication required.\r\n",
    ]

    @Test func clientCorpusCutsPerCommandWhateverTheChunking() {
        let counts = [2, 5, 16, 4, 2, 4]
        for (text, count) in zip(Self.clientCorpus, counts) {
            let cuts = harness.expectResplitInvariant(Array(text), .client)
            #expect(cuts.count == count, "\(text.debugDescription): \(cuts)")
            #expect(cuts.allSatisfy { $0.error == nil })
        }
    }

    @Test func serverCorpusCutsPerReplyWhateverTheChunking() {
        let types: [[String?]] = [
            ["simple", "error", "integer", "integer", "bulk", "bulk", "null", "null", "array"],
            ["array"],
            ["null", "double", "double", "boolean", "boolean", "blob_error", "verbatim", "big_number"],
            ["map", "set", "set"],
            ["array"],
            ["array", "simple"],
            ["push", "push"],
            ["error", "error"],
        ]
        for (text, expected) in zip(Self.serverCorpus, types) {
            let cuts = harness.expectResplitInvariant(Array(text), .server)
            #expect(cuts.map { $0.fields[field: "type"]?.text } == expected, "\(cuts)")
            #expect(cuts.allSatisfy { $0.error == nil })
        }
    }

    @Test func commandFields() {
        let cuts = harness.decode(Self.clientCorpus[0] + Self.clientCorpus[1] + Self.clientCorpus[5], .client)
        #expect(cuts.map(\.verb) == ["SET", "GET", "PING", "SET", nil, "ECHO", nil, nil, nil, "HSET", "DEL"])
        #expect(cuts[0].fields == [MessageField("command", .text("SET")), MessageField("key", .text("mykey")), MessageField("arguments", .integer(2))])
        #expect(cuts[0].exchange == .request(method: "SET", target: "mykey"))
        #expect(cuts[2].fields == [MessageField("command", .text("PING")), MessageField("arguments", .integer(0))])
        #expect(cuts[2].exchange == .request(method: "PING", target: nil))
        #expect(cuts[3].text == "set foo bar\n")
        #expect(cuts[3].fields == [MessageField("command", .text("SET")), MessageField("key", .text("foo")), MessageField("arguments", .integer(2))])
        #expect(cuts[4].text == "\r\n" && cuts[4].fields.isEmpty && cuts[4].exchange == nil)
        #expect(cuts[5].fields[field: "key"] == .text("hi"))
        #expect(cuts[6].text == "\n" && cuts[6].fields.isEmpty)
        #expect(cuts[7].text == "*0\r\n" && cuts[7].fields.isEmpty && cuts[7].exchange == nil)
        #expect(cuts[9].fields[field: "arguments"] == .integer(3))
        // A key with a control byte, or longer than 200 bytes, is left out.
        #expect(cuts[10].fields == [MessageField("command", .text("DEL")), MessageField("arguments", .integer(1))])
        let long = harness.decode(Self.command("get", String(repeating: "k", count: 201)), .client)
        #expect(long.map(\.fields) == [[MessageField("command", .text("GET")), MessageField("arguments", .integer(1))]])
        // An empty command, and one that is not UTF-8 (repaired, never a crash).
        let empty = harness.decode([Array("*1\r\n$0\r\n\r\n*2\r\n$3\r\n") + [0xFF] + Array("et\r\n$1\r\nk\r\n")], .client)
        #expect(empty.map(\.verb) == ["", "\u{FFFD}ET"])
        let fits = harness.decode(Self.command("get", String(repeating: "k", count: 200)), .client)
        #expect(fits.first?.fields[field: "key"] == .text(String(repeating: "k", count: 200)))
    }

    @Test func replyFields() {
        let cuts = harness.decode(Self.serverCorpus.joined(), .server)
        func fields(_ i: Int) -> [MessageField] { cuts[i].fields }
        #expect(fields(0) == [MessageField("type", .text("simple")), MessageField("value", .text("OK"))])
        #expect(fields(1) == [MessageField("type", .text("error")), MessageField("error", .text("ERR"))])
        #expect(fields(2) == [MessageField("type", .text("integer")), MessageField("value", .text("1000"))])
        #expect(fields(4) == [MessageField("type", .text("bulk")), MessageField("value", .text("hello"))])
        #expect(fields(5) == [MessageField("type", .text("bulk")), MessageField("value", .text(""))])
        #expect(fields(6) == [MessageField("type", .text("null"))])
        #expect(fields(8) == [MessageField("type", .text("array")), MessageField("elements", .integer(0))])
        #expect(fields(9) == [MessageField("type", .text("array")), MessageField("elements", .integer(2))])
        #expect(fields(11)[field: "value"] == .text("3.14"))
        #expect(fields(13)[field: "value"] == .text("true"))
        #expect(fields(15) == [MessageField("type", .text("blob_error")), MessageField("error", .text("SYNTAX"))])
        #expect(fields(16) == [MessageField("type", .text("verbatim"))])
        #expect(fields(17)[field: "value"] == .text("3492890328409238509324850943850943825024385"))
        #expect(fields(18) == [MessageField("type", .text("map")), MessageField("elements", .integer(2))])
        // The attribute stays with the array it annotates.
        #expect(cuts[21].text.hasPrefix("|1\r\n") && cuts[21].fields[field: "elements"] == .integer(2))
        #expect(cuts[22].text == "*2\r\n|1\r\n+ttl\r\n:3600\r\n$1\r\nv\r\n:2\r\n")
        #expect(fields(26)[field: "error"] == .text("WRONGTYPE"))
        #expect(fields(27)[field: "error"] == .text("NOAUTH"))
        // A bulk longer than 64 bytes or not printable has no value.
        let long = harness.decode("$65\r\n" + String(repeating: "v", count: 65) + "\r\n$2\r\n\u{00}x\r\n", .server)
        #expect(long.map(\.fields) == [[MessageField("type", .text("bulk"))], [MessageField("type", .text("bulk"))]])
    }

    // MARK: Pairing

    static func exchanges(_ turns: [(Sender, String)], limits: DecoderLimits = DecoderLimits()) -> [(Sender, ExchangePart?)] {
        DecoderHarness(proto: RESPProtocol.self, limits: limits).conversation(turns.map { ($0.0, Array($0.1)) }).map { ($0.0, $0.1.exchange) }
    }

    static func responses(_ n: Int) -> [ExchangePart?] { Array(repeating: nil, count: n) }

    @Test func pipelinedCommandsPairWithTheirReplies() {
        let out = Self.exchanges([(.client, Self.pipelined), (.server, String(repeating: "+PONG\r\n", count: 8) + String(repeating: "+OK\r\n", count: 8))])
        #expect(out.count == 32)
        #expect(out.prefix(16).allSatisfy { $0.0 == .client })
        #expect(out.prefix(8).allSatisfy { $0.1 == .request(method: "PING", target: nil) })
        #expect(out[8].1 == .request(method: "SET", target: "key:1"))
        #expect(out.suffix(16).allSatisfy { $0.0 == .server && $0.1 == .response(status: nil, outcome: "simple", error: nil) })
    }

    @Test func subscribeRepliesAreInterimUntilTheLastAndPushesPairWithNothing() {
        let out = Self.exchanges([
            (.client, Self.command("SUBSCRIBE", "a", "b")),
            (.server, "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"),
            (.server, "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n*4\r\n$8\r\npmessage\r\n$2\r\na*\r\n$1\r\na\r\n$1\r\nx\r\n"),
            (.client, Self.command("PING") + Self.command("UNSUBSCRIBE")),
            (.server, "*2\r\n$4\r\npong\r\n$0\r\n\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$1\r\ny\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n"),
            (.client, Self.command("GET", "k")),
            (.server, "*3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$1\r\nz\r\n"),
        ])
        let done = ExchangePart.response(status: nil, outcome: "array", error: nil)
        #expect(out.map(\.1) == [
            .request(method: "SUBSCRIBE", target: "a"), .interim, done, nil, nil,
            .request(method: "PING", target: nil), .request(method: "UNSUBSCRIBE", target: nil),
            done, .interim, nil, done,
            // Unsubscribed from everything: an array starting `message` is a reply again.
            .request(method: "GET", target: "k"), done,
        ])
    }

    @Test func resp3SubscribeConfirmationsArePushesThatPair() {
        let out = Self.exchanges([
            (.client, Self.command("HELLO", "3") + Self.command("SUBSCRIBE", "a", "b")),
            (.server, "%1\r\n+server\r\n+redis\r\n>3\r\n+subscribe\r\n+a\r\n:1\r\n>3\r\n+subscribe\r\n+b\r\n:2\r\n>3\r\n+message\r\n+a\r\n+m\r\n"),
            (.client, Self.command("PUNSUBSCRIBE")),
            (.server, ">3\r\n+punsubscribe\r\n_\r\n:2\r\n>2\r\n+invalidate\r\n_\r\n"),
        ])
        #expect(out.map(\.1) == [
            .request(method: "HELLO", target: nil), .request(method: "SUBSCRIBE", target: "a"),
            .response(status: nil, outcome: "map", error: nil), .interim, .response(status: nil, outcome: "push", error: nil), nil,
            .request(method: "PUNSUBSCRIBE", target: nil), .response(status: nil, outcome: "push", error: nil), nil,
        ])
    }

    @Test func multiExecPairsOneToOne() {
        let out = Self.exchanges([
            (.client, Self.clientCorpus[3]),
            (.server, "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n+OK\r\n"),
            (.client, Self.command("GET", "n")),
            (.server, "-WRONGTYPE Operation against a key\r\n"),
        ])
        #expect(out.map(\.1) == [
            .request(method: "MULTI", target: nil), .request(method: "INCR", target: "n"), .request(method: "SET", target: "a"),
            .request(method: "EXEC", target: nil),
            .response(status: nil, outcome: "simple", error: nil), .response(status: nil, outcome: "simple", error: nil),
            .response(status: nil, outcome: "simple", error: nil), .response(status: nil, outcome: "array", error: nil),
            .request(method: "GET", target: "n"), .response(status: nil, outcome: "error", error: "WRONGTYPE"),
        ])
    }

    @Test func anErrorEndsAMultiReplyCommand() {
        let out = Self.exchanges([
            (.client, Self.command("SUBSCRIBE", "a", "b") + Self.command("PING")),
            (.server, "-NOAUTH Authentication required.\r\n+PONG\r\n"),
        ])
        #expect(out.suffix(2).map(\.1) == [.response(status: nil, outcome: "error", error: "NOAUTH"), .response(status: nil, outcome: "simple", error: nil)])
    }

    // MARK: Pieces

    static let small = DecoderLimits(maxLineLength: 32, maxMessageBytes: 16)

    @Test func aLargeBulkReplyComesOutInPiecesWithTheExchangeOnTheLast() {
        let harness = DecoderHarness(proto: RESPProtocol.self, limits: Self.small)
        let body = String(repeating: "0123456789", count: 5)
        let corpus = Array("$50\r\n" + body + "\r\n+OK\r\n")
        let cuts = harness.expectResplitInvariant(corpus, .server)
        #expect(cuts.map(\.raw.count) == [16, 16, 16, 9, 5])
        #expect(cuts[0].fields == [MessageField("type", .text("bulk"))])
        #expect(cuts[1...3].allSatisfy { $0.fields == [MessageField("continuation", .bool(true))] })
        #expect(cuts.map { $0.exchange != nil } == [false, false, false, true, true])
        #expect(cuts.allSatisfy { $0.error == nil })
    }

    @Test func aLargeCommandComesOutInPiecesWithTheExchangeOnTheFirst() {
        let harness = DecoderHarness(proto: RESPProtocol.self, limits: DecoderLimits(maxLineLength: 32, maxMessageBytes: 24))
        let corpus = Array(Self.command("SET", "k", String(repeating: "v", count: 60)) + Self.command("GET", "k"))
        let cuts = harness.expectResplitInvariant(corpus, .client)
        #expect(cuts.count == 5)
        #expect(cuts[0].fields == [MessageField("command", .text("SET")), MessageField("key", .text("k")), MessageField("arguments", .integer(2))])
        #expect(cuts[0].exchange == .request(method: "SET", target: "k"))
        #expect(cuts[1...3].allSatisfy { $0.fields == [MessageField("continuation", .bool(true))] && $0.exchange == nil && $0.verb == nil })
        #expect(cuts[4].verb == "GET")
        #expect(cuts.dropLast().allSatisfy { $0.raw.count <= 24 })
    }

    @Test func aLargeAggregateIsCutBetweenElementsAndMemoryStaysBounded() {
        let limits = Self.small
        let corpus = Array("*12\r\n" + String(repeating: "$3\r\nabc\r\n", count: 12) + ":7\r\n")
        let cuts = DecoderHarness(proto: RESPProtocol.self, limits: limits).expectResplitInvariant(corpus, .server)
        #expect(cuts.allSatisfy { $0.raw.count <= 16 && $0.error == nil })
        #expect(cuts.last?.fields[field: "value"] == .text("7"))
        #expect(cuts[0].fields == [MessageField("type", .text("array")), MessageField("elements", .integer(12))])
        // Fed a byte at a time, never more than a piece and a line held.
        let pair = RESPProtocol.makeDecoders(limits: limits)
        var stream = MessageStream(decoder: pair.server, limits: limits)
        var most = 0
        for byte in corpus + Array("$100\r\n" + String(repeating: "z", count: 100) + "\r\n") {
            stream.feed(ByteBuffer(bytes: [byte])) { _ in }
            most = max(most, stream.pendingByteCount)
        }
        #expect(most <= limits.maxMessageBytes + limits.maxLineLength + 2)
        #expect(!stream.isPassthrough)
    }

    @Test func aLargeAggregateInSmallReadsIsNotReparsed() {
        // 40,000 elements (280 kB) in 50-byte reads: reparsing from the start each read would take
        // billions of steps; parsing once takes well under a second even unoptimised.
        let corpus = Array("*40000\r\n" + String(repeating: "$1\r\nx\r\n", count: 40_000))
        let chunks = stride(from: 0, to: corpus.count, by: 50).map { Array(corpus[$0..<min($0 + 50, corpus.count)]) }
        let clock = ContinuousClock()
        var cuts: [Cut] = []
        let elapsed = clock.measure { cuts = harness.decode(chunks, .server) }
        #expect(cuts.count == 1 && cuts.first?.fields[field: "elements"] == .integer(40_000))
        #expect(elapsed < .seconds(20))
    }

    // MARK: Bad input

    @Test(arguments: [
        (Sender.server, "+OK\r\n$-5\r\n", "bulk length of -5"),
        (.server, "$1000000000000\r\n", "bulk length of 1000000000000"),
        (.server, "*1048577\r\n", "aggregate length of 1048577"),
        (.server, "*-2\r\n", "aggregate length of -2"),
        (.server, String(repeating: "*1\r\n", count: 65) + ":1\r\n", "nested deeper than 64"),
        (.server, "$" + String(repeating: "1", count: 40) + "\r\n", "line longer than 32"),
        (.server, "$12a\r\nx\r\n", "not a number"),
        (.server, "$99999999999999999999\r\n", "not a number"),
        (.server, ":12x\r\n", "not a number"),
        (.server, "@what\r\n", "unknown RESP type byte '@'"),
        (.server, "$3\r\nabcd\r\n", "missing CRLF"),
        (.server, "+OK\n", "not ended by CRLF"),
        (.client, "*2\r\n$3\r\nGET\r\n$-1\r\n", "bulk length of -1 in a command"),
        (.client, "*1\r\n$600000000\r\n", "bulk length of 600000000"),
        (.client, "*2000000\r\n", "multibulk length of 2000000"),
        (.client, "*-5\r\n", "multibulk length of -5"),
        (.client, "*x\r\n", "not a number"),
        (.client, "*1\r\n:1\r\n", "not a bulk string"),
        (.client, "*1\r\n$4\r\nPINGxx", "missing CRLF"),
        (.client, "PING " + String(repeating: "a", count: 40) + "\r\n", "inline command longer than 32"),
    ])
    func badInputIsADecodeErrorAndTheRestRaw(side: Sender, text: String, reason: String) {
        let harness = DecoderHarness(proto: RESPProtocol.self, limits: DecoderLimits(maxLineLength: 32))
        let input = Array(text + "+more\r\n")
        let cuts = harness.decode([input], side)
        #expect(cuts.flatMap(\.raw) == input)
        let failed = cuts.first { $0.error != nil }
        #expect(failed?.error?.contains(reason) == true, "\(cuts)")
        // Everything after the error is one raw message without fields.
        #expect(cuts.last?.fields.isEmpty == true && cuts.last?.text.hasSuffix("+more\r\n") == true)
    }

    @Test func sixtyFourLevelsAreFine() {
        let cuts = harness.decode(String(repeating: "*1\r\n", count: 64) + ":1\r\n", .server)
        #expect(cuts.count == 1 && cuts[0].error == nil)
    }

    @Test func aStreamEndingInsideAReplyIsTruncated() {
        let cuts = harness.decode("+OK\r\n*2\r\n:1\r\n", .server)
        #expect(cuts.map(\.text) == ["+OK\r\n", "*2\r\n:1\r\n"])
        #expect(cuts.map { $0.error != nil } == [false, true])
    }

    @Test func garbageNeverCrashesNorLosesBytes() {
        let harness = DecoderHarness(proto: RESPProtocol.self, limits: DecoderLimits(maxLineLength: 48, maxMessageBytes: 40))
        harness.expectSurvivesGarbage(seedCorpus: Self.clientCorpus.map { Array($0) }, .client, iterations: 400)
        harness.expectSurvivesGarbage(seedCorpus: Self.serverCorpus.map { Array($0) }, .server, iterations: 400)
        harness.expectSurvivesGarbage(seedCorpus: Self.serverCorpus.map { Array($0) }, .server, iterations: 200)
    }

    // MARK: Recognition

    @Test func recognisesMultibulkAndWellKnownInlineCommands() {
        func recognise(_ text: String) -> Recognition { RESPProtocol.recognise(ByteBuffer(string: text).readableBytesView) }
        #expect(recognise("*1\r\n$4\r\nPING\r\n") == .yes)
        #expect(recognise("*") == .needMore)
        #expect(recognise("*x") == .no)
        #expect(recognise("PING\r\n") == .yes)
        #expect(recognise("ping\n") == .yes)
        #expect(recognise("set k v\r\n") == .yes)
        #expect(recognise("SUBS") == .needMore)
        #expect(recognise("") == .needMore)
        #expect(recognise("PINGS\r\n") == .no)
        for lab in ["QUIT\r\n", "HELO x\n", "DATA\n", "HELO", "QUIT"] { #expect(recognise(lab) == .no, "\(lab)") }
        #expect(recognise("GET / HTTP/1.1\r\nHost: x\r\n") == .no)
        #expect(recognise("GET mykey\r\n") == .yes)
        #expect(recognise("\u{16}\u{03}\u{01}") == .no)
    }
}

extension RESPTests {
    @Test func credentialsAreNeverAKey() {
        for command in [Self.command("AUTH", "hunter2"), Self.command("AUTH", "default", "hunter2"),
                        Self.command("HELLO", "3", "AUTH", "default", "hunter2"), "AUTH hunter2\r\n"] {
            let cut = harness.decode(command, .client)
            #expect(cut.count == 1 && cut[0].fields[field: "key"] == nil, "\(cut)")
        }
    }
}
