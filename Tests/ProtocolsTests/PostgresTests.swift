import NIOCore
import Protocols
import Recording
import Testing

/// Byte builders for PostgreSQL v3 messages.
private enum PG {
    static func int32(_ value: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) } }
    static func int16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(truncatingIfNeeded: value)] }
    static func cstr(_ text: String) -> [UInt8] { Array(text.utf8) + [0] }
    /// A typed message: type, Int32 length (itself included), body.
    static func msg(_ type: Character, _ body: [UInt8] = []) -> [UInt8] {
        [type.asciiValue!] + int32(UInt32(body.count + 4)) + body
    }
    /// An untyped startup-phase message: Int32 length, Int32 code, body.
    static func untyped(_ code: UInt32, _ body: [UInt8] = []) -> [UInt8] { int32(UInt32(body.count + 8)) + int32(code) + body }

    static let sslRequest = untyped(80_877_103)
    static let gssencRequest = untyped(80_877_104)
    static let cancelRequest = untyped(80_877_102, int32(4242) + int32(0xDEAD_BEEF))
    static let startup = untyped(196_608, cstr("user") + cstr("alice") + cstr("database") + cstr("shop") + cstr("application_name") + cstr("pgbench") + [0])
    static let secret = "md5f00dfeedsecret"
    static let password = msg("p", cstr(secret))
    static func query(_ sql: String) -> [UInt8] { msg("Q", cstr(sql)) }
    static let updateSQL = "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;"
    static let parse = msg("P", cstr("P0_1") + cstr(updateSQL) + int16(2) + int32(23) + int32(23))
    static func bind(_ values: [String]) -> [UInt8] {
        var body = cstr("") + cstr("P0_1") + int16(0) + int16(UInt16(values.count))
        for value in values { body += int32(UInt32(value.utf8.count)) + Array(value.utf8) }
        return msg("B", body + int16(0))
    }
    static let describePortal = msg("D", [UInt8(ascii: "P")] + cstr(""))
    static let execute = msg("E", cstr("") + int32(0))
    static let sync = msg("S")
    static let terminate = msg("X")
    static func copyData(_ text: String) -> [UInt8] { msg("d", Array(text.utf8)) }
    static let copyDone = msg("c")

    static func auth(_ code: UInt32, _ rest: [UInt8] = []) -> [UInt8] { msg("R", int32(code) + rest) }
    static func parameterStatus(_ name: String, _ value: String) -> [UInt8] { msg("S", cstr(name) + cstr(value)) }
    static let backendKeyData = msg("K", int32(4242) + int32(0xDEAD_BEEF))
    static func ready(_ status: Character = "I") -> [UInt8] { msg("Z", [status.asciiValue!]) }
    static let rowDescription = msg("T", int16(1) + cstr("n") + int32(0) + int16(0) + int32(23) + int16(4) + int32(0xFFFF_FFFF) + int16(0))
    static func dataRow(_ value: String) -> [UInt8] { msg("D", int16(1) + int32(UInt32(value.utf8.count)) + Array(value.utf8)) }
    static func complete(_ tag: String) -> [UInt8] { msg("C", cstr(tag)) }
    static func error(_ code: String, _ message: String, severity: String = "ERROR") -> [UInt8] {
        msg("E", [UInt8(ascii: "S")] + cstr(severity) + [UInt8(ascii: "V")] + cstr(severity) + [UInt8(ascii: "C")] + cstr(code)
            + [UInt8(ascii: "M")] + cstr(message) + [UInt8(ascii: "P")] + cstr("1") + [0])
    }
    static let copyInResponse = msg("G", [0] + int16(1) + int16(0))
    static let copyOutResponse = msg("H", [0] + int16(1) + int16(0))
    static let notification = msg("A", int32(4243) + cstr("jobs") + cstr("42"))

    static let clientPlain: [[UInt8]] = [
        sslRequest, startup, password,
        query("SELECT n FROM t"),
        parse + bind(["7", "1"]) + describePortal + execute + sync,
        bind(["8", "2"]) + execute + sync,
        query("SELEC 1"),
        query("COPY t FROM STDIN"), copyData("1\n") + copyData("2\n") + copyDone,
        query("COPY t TO STDOUT"),
        query("LISTEN jobs"),
        terminate,
    ]
    static let serverPlain: [[UInt8]] = [
        Array("N".utf8),
        auth(5, [1, 2, 3, 4]),
        auth(0) + parameterStatus("server_version", "16.1") + parameterStatus("client_encoding", "UTF8")
            + parameterStatus("DateStyle", "ISO, MDY") + backendKeyData + ready(),
        rowDescription + dataRow("1") + dataRow("2") + dataRow("3") + complete("SELECT 3") + ready(),
        msg("1") + msg("2") + msg("n") + complete("UPDATE 1") + ready(),
        msg("2") + msg("n") + complete("UPDATE 1") + ready(),
        error("42601", "syntax error at or near \"SELEC\"") + ready(),
        copyInResponse,
        complete("COPY 2") + ready(),
        copyOutResponse + copyData("1\n") + copyData("2\n") + copyDone + complete("COPY 2") + ready(),
        complete("LISTEN") + ready(),
        notification,
    ]
    /// The conversation, in wire order: client turn i answered by the server turns listed.
    static let plainConversation: [(Sender, [UInt8])] = [
        (.client, clientPlain[0]), (.server, serverPlain[0]),
        (.client, clientPlain[1]), (.server, serverPlain[1]),
        (.client, clientPlain[2]), (.server, serverPlain[2]),
        (.client, clientPlain[3]), (.server, serverPlain[3]),
        (.client, clientPlain[4]), (.server, serverPlain[4]),
        (.client, clientPlain[5]), (.server, serverPlain[5]),
        (.client, clientPlain[6]), (.server, serverPlain[6]),
        (.client, clientPlain[7]), (.server, serverPlain[7]),
        (.client, clientPlain[8]), (.server, serverPlain[8]),
        (.client, clientPlain[9]), (.server, serverPlain[9]),
        (.client, clientPlain[10]), (.server, serverPlain[10]),
        (.server, serverPlain[11]),
        (.client, clientPlain[11]),
    ]

    static let scramClientFirst = "n,,n=,r=rOprNGfwEbeRWgbNEkqO"
    static let scramClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    static let saslConversation: [(Sender, [UInt8])] = [
        (.client, startup),
        (.server, auth(10, cstr("SCRAM-SHA-256-PLUS") + cstr("SCRAM-SHA-256") + [0])),
        (.client, msg("p", cstr("SCRAM-SHA-256") + int32(UInt32(scramClientFirst.utf8.count)) + Array(scramClientFirst.utf8))),
        (.server, auth(11, Array("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096".utf8))),
        (.client, msg("p", Array(scramClientFinal.utf8))),
        (.server, auth(12, Array("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8)) + auth(0)
            + parameterStatus("server_version", "16.1") + backendKeyData + ready()),
    ]
}

private func field(_ cut: Cut, _ name: String) -> FieldValue? { cut.fields[field: name] }
private func messages(_ cut: Cut) -> String? { field(cut, "messages")?.text }

@Suite struct PostgresTests {
    let harness = DecoderHarness(proto: PostgresProtocol.self)

    @Test func clientTurnsAreCutWhateverTheSplit() {
        let cuts = harness.expectResplitInvariant(PG.clientPlain.flatMap { $0 }, .client)
        #expect(cuts.map(messages) == [
            "SSLRequest", "StartupMessage", "PasswordMessage", "Query", "Parse,Bind,Describe,Execute,Sync",
            "Bind,Execute,Sync", "Query", "Query", "CopyData×2,CopyDone", "Query", "Query", "Terminate",
        ])
        #expect(cuts.map(\.raw) == PG.clientPlain)
        #expect(cuts.map(\.verb) == ["SSLRequest", "StartupMessage", "PasswordMessage", "Query", "Parse", "Bind",
                                     "Query", "Query", "CopyData", "Query", "Query", "Terminate"])
        #expect(cuts.allSatisfy { $0.error == nil })
        #expect(field(cuts[1], "user") == .text("alice"))
        #expect(field(cuts[1], "database") == .text("shop"))
        #expect(field(cuts[3], "statement") == .text("SELECT n FROM t"))
        #expect(field(cuts[4], "statement") == .text(PG.updateSQL))
        #expect(field(cuts[4], "parameters") == .integer(2))
        #expect(field(cuts[5], "parameters") == .integer(2))
        #expect(field(cuts[5], "statement") == nil)
        // Secrets and parameter values stay in the bytes.
        let texts = cuts.flatMap { $0.fields.compactMap(\.value.text) }
        #expect(!texts.contains { $0.contains(PG.secret) })
    }

    @Test func serverTurnsAreCutWhateverTheSplit() {
        let cuts = harness.expectResplitInvariant(PG.serverPlain.flatMap { $0 }, .server)
        #expect(cuts.map(messages) == [
            "N", "AuthenticationMD5Password", "AuthenticationOk,ParameterStatus×3,BackendKeyData,ReadyForQuery",
            "RowDescription,DataRow×3,CommandComplete,ReadyForQuery",
            "ParseComplete,BindComplete,NoData,CommandComplete,ReadyForQuery", "BindComplete,NoData,CommandComplete,ReadyForQuery",
            "ErrorResponse,ReadyForQuery", "CopyInResponse", "CommandComplete,ReadyForQuery",
            "CopyOutResponse,CopyData×2,CopyDone,CommandComplete,ReadyForQuery", "CommandComplete,ReadyForQuery",
            "NotificationResponse",
        ])
        #expect(cuts.map(\.raw) == PG.serverPlain)
        #expect(field(cuts[3], "rows") == .integer(3))
        #expect(field(cuts[3], "tag") == .text("SELECT 3"))
        #expect(field(cuts[3], "transaction") == .text("I"))
        #expect(field(cuts[6], "sqlstate") == .text("42601"))
        #expect(field(cuts[6], "severity") == .text("ERROR"))
        #expect(field(cuts[6], "error") == .text("syntax error at or near \"SELEC\""))
        #expect(cuts[11].exchange == nil)
    }

    @Test func aConversationPairsRequestsAndResponsesOneToOne() {
        let cuts = harness.conversation(PG.plainConversation)
        #expect(cuts.allSatisfy { $0.1.error == nil })
        var open: [ExchangePart] = []
        var pairs: [(String?, String?, String?, String?)] = []
        for (side, cut) in cuts {
            switch cut.exchange {
            case .request(let method, let target)?:
                #expect(side == .client)
                open.append(.request(method: method, target: target))
            case .response(_, let outcome, let error)?:
                #expect(side == .server)
                guard case .request(let method, let target)? = open.first else {
                    Issue.record("a response with no request: \(cut)")
                    continue
                }
                open.removeFirst()
                pairs.append((method, target, outcome, error))
            case .interim?:
                #expect(side == .server && !open.isEmpty)
            case nil:
                break
            }
        }
        #expect(open.isEmpty)
        #expect(pairs.map(\.0) == ["SSLRequest", "STARTUP", "AUTH", "SELECT", "UPDATE", "Bind", "SELEC", "COPY", "COPY", "LISTEN"])
        #expect(pairs.map(\.1) == [nil, "alice@shop", nil, "SELECT n FROM t", PG.updateSQL, nil, "SELEC 1", "COPY t FROM STDIN", "COPY t TO STDOUT", "LISTEN jobs"])
        #expect(pairs.map(\.2) == ["N", "AuthenticationMD5Password", "ReadyForQuery", "SELECT 3", "UPDATE 1", "UPDATE 1",
                                   "ErrorResponse", "COPY 2", "COPY 2", "LISTEN"])
        #expect(pairs.map(\.3) == [nil, nil, nil, nil, nil, nil, "42601", nil, nil, nil])
        // The COPY FROM STDIN answer is interim; the CopyData run opens nothing.
        let copyIn = cuts.first { messages($0.1) == "CopyInResponse" }
        #expect(copyIn?.1.exchange == .interim)
        #expect(cuts.first { messages($0.1) == "CopyData×2,CopyDone" }?.1.exchange == nil)
        #expect(cuts.last?.1.exchange == nil)
    }

    @Test func scramNamesItsStepsAndKeepsTheirPayloadsOut() {
        let cuts = harness.conversation(PG.saslConversation)
        #expect(cuts.map { messages($0.1) } == [
            "StartupMessage", "AuthenticationSASL", "SASLInitialResponse", "AuthenticationSASLContinue", "SASLResponse",
            "AuthenticationSASLFinal,AuthenticationOk,ParameterStatus,BackendKeyData,ReadyForQuery",
        ])
        #expect(field(cuts[2].1, "mechanism") == .text("SCRAM-SHA-256"))
        #expect(cuts.map(\.1.exchange) == [
            .request(method: "STARTUP", target: "alice@shop"), .response(status: nil, outcome: "AuthenticationSASL", error: nil),
            .request(method: "AUTH", target: nil), .response(status: nil, outcome: "AuthenticationSASLContinue", error: nil),
            .request(method: "AUTH", target: nil), .response(status: nil, outcome: "ReadyForQuery", error: nil),
        ])
        let texts = cuts.flatMap { $0.1.fields.compactMap(\.value.text) }
        #expect(!texts.contains { $0.contains("r=rOpr") || $0.contains("p=dHz") })
    }

    @Test func anAcceptedSSLRequestTurnsBothDirectionsRaw() {
        let hello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]
        let serverHello: [UInt8] = [0x16, 0x03, 0x03, 0x00, 0x02, 9, 9]
        let cuts = harness.conversation([
            (.client, PG.sslRequest), (.server, [UInt8(ascii: "S")]), (.client, hello), (.server, serverHello),
            (.client, PG.query("SELECT 1")),
        ])
        #expect(cuts.map(\.0) == [.client, .server, .client, .server, .client])
        #expect(field(cuts[1].1, "tls") == .bool(true))
        #expect(cuts[1].1.exchange == .response(status: nil, outcome: "S", error: nil))
        for (_, cut) in cuts[2...] {
            #expect(cut.error == nil && cut.fields.isEmpty && cut.verb == nil && cut.exchange == nil)
        }
        #expect(cuts[2].1.raw == hello && cuts[3].1.raw == serverHello)
    }

    @Test func gssencRefusedThenSSLRefusedThenStartup() {
        let cuts = harness.conversation([
            (.client, PG.gssencRequest), (.server, Array("N".utf8)), (.client, PG.sslRequest), (.server, Array("N".utf8)),
            (.client, PG.startup), (.server, PG.auth(3)),
        ])
        #expect(cuts.map { messages($0.1) } == ["GSSENCRequest", "N", "SSLRequest", "N", "StartupMessage", "AuthenticationCleartextPassword"])
        #expect(cuts.allSatisfy { $0.1.error == nil })
    }

    @Test func largeTurnsComeInPiecesOfAtMostTheLimit() {
        let limits = DecoderLimits(maxLineLength: 64, maxMessageBytes: 64, maxHeaderBytes: 64)
        let small = DecoderHarness(proto: PostgresProtocol.self, limits: limits)
        let rows = (0..<20).map { PG.dataRow("row \($0)") }.flatMap { $0 }
        let huge = PG.dataRow(String(repeating: "x", count: 300))
        let server = PG.rowDescription + rows + huge + PG.complete("SELECT 21") + PG.ready()
        let cuts = small.expectResplitInvariant(server, .server)
        #expect(cuts.count > 5)
        #expect(cuts.allSatisfy { $0.raw.count <= 64 && $0.error == nil })
        #expect(field(cuts[0], "continuation") == nil)
        #expect(cuts.dropFirst().allSatisfy { field($0, "continuation") == .bool(true) })
        #expect(cuts.dropLast().allSatisfy { $0.exchange == nil })
        #expect(cuts.last?.exchange == .response(status: nil, outcome: "SELECT 21", error: nil))
        #expect(cuts.compactMap { field($0, "rows")?.integer }.reduce(0, +) == 21)
        let copy = PG.startup + PG.query("COPY t FROM STDIN")
        let client = (0..<30).map { PG.copyData("line \($0)\n") }.flatMap { $0 } + PG.copyDone + PG.query(String(repeating: "SELECT 1;", count: 20))
        let clientCuts = small.expectResplitInvariant(copy + client, .client)
        #expect(clientCuts.allSatisfy { $0.raw.count <= 64 && $0.error == nil })
        #expect(clientCuts.dropFirst().first?.exchange == .request(method: "COPY", target: "COPY t FROM STDIN"))
        #expect(clientCuts.contains { messages($0) == "CopyData×4" && field($0, "continuation") == .bool(true) })
        // A statement longer than a piece is known by what its first piece holds.
        let known = String(String(repeating: "SELECT 1;", count: 20).prefix(64 - 5))
        #expect(clientCuts.contains { field($0, "statement") == .text(known) })
        #expect(clientCuts.last?.exchange == .request(method: "SELECT", target: known))
    }

    @Test func aQuietPeriodCompletesNothingAndTheEndCompletesWhatIsWhole() {
        let corpus = PG.serverPlain.flatMap { $0 }
        let chunks = stride(from: 0, to: corpus.count, by: 7).map { Array(corpus[$0..<min($0 + 7, corpus.count)]) }
        #expect(harness.decode(chunks, .server, flushAfterEachChunk: true) == harness.decode([corpus], .server))
        // A FATAL error and a close: the end completes the turn, which answers the startup.
        let fatal = PG.error("28P01", "password authentication failed for user \"alice\"", severity: "FATAL")
        let cuts = harness.conversation([(.client, PG.startup), (.server, PG.auth(5, [1, 2, 3, 4])), (.client, PG.password), (.server, fatal + [UInt8(ascii: "Z")])])
        let last = cuts.filter { $0.0 == .server }.suffix(2).map(\.1)
        #expect(last.first?.exchange == .response(status: nil, outcome: "ErrorResponse", error: "28P01"))
        #expect(last.first.flatMap { field($0, "severity") } == .text("FATAL"))
        #expect(last.last?.error?.hasPrefix("truncated") == true)
        #expect(last.last?.raw == [UInt8(ascii: "Z")])
        // The same error while the server is idle (an administrator's shutdown) answers nothing.
        let shutdown = harness.conversation([(.client, PG.startup), (.server, PG.auth(0) + PG.ready()),
                                             (.server, PG.error("57P01", "terminating connection", severity: "FATAL"))])
        #expect(shutdown.map { messages($0.1) } == ["StartupMessage", "AuthenticationOk,ReadyForQuery", "ErrorResponse"])
        #expect(shutdown.last?.1.exchange == nil && shutdown.last.flatMap { field($0.1, "sqlstate") } == .text("57P01"))
        // A client batch without its Sync at the close.
        let tail = harness.decode([PG.startup + PG.parse + PG.bind(["1", "2"]) + [UInt8(ascii: "E"), 0]], .client)
        #expect(tail.map(messages) == ["StartupMessage", "Parse,Bind", nil])
        #expect(tail.dropFirst().map(\.exchange) == [nil, nil])
        #expect(tail.last?.error?.hasPrefix("truncated") == true)
    }

    @Test(arguments: [
        (Sender.client, PG.startup + PG.query("SELECT 1") + [UInt8(ascii: "Q"), 0, 0, 0, 0] + PG.sync, "less than 4"),
        (Sender.client, PG.startup + [UInt8(ascii: "Q"), 0x80, 0, 0, 0] + Array(repeating: 0, count: 20), "not below"),
        (Sender.client, PG.startup + PG.msg("z", [1, 2]), "unknown frontend message type"),
        (Sender.client, PG.untyped(12345, [1, 2, 3]), "unknown startup message code"),
        (Sender.client, PG.int32(0x7FFF_FFFF) + PG.int32(196_608), "StartupMessage length"),
        (Sender.client, PG.int32(12) + PG.int32(80_877_103) + [0, 0, 0, 0], "SSLRequest length"),
        (Sender.server, PG.auth(5, [1, 2, 3, 4]) + [UInt8(ascii: "Z"), 0, 0, 0, 0], "less than 4"),
        (Sender.server, PG.auth(5, [1, 2, 3, 4]) + [UInt8(ascii: "D"), 0x80, 0, 0, 0], "not below"),
        (Sender.server, PG.auth(5, [1, 2, 3, 4]) + PG.msg("Q", [0]), "unknown backend message type"),
    ])
    func badInputSwitchesTheDirectionToRaw(side: Sender, corpus: [UInt8], reason: String) {
        let cuts = harness.decode([corpus], side)
        #expect(cuts.flatMap(\.raw) == corpus)
        let failed = cuts.firstIndex { $0.error != nil }
        #expect(failed.map { cuts[$0].error?.contains(reason) == true } == true, "\(cuts)")
        // Whatever precedes the bad message keeps its decoding.
        #expect(cuts.prefix(failed ?? 0).allSatisfy { $0.fields[field: "messages"] != nil })
    }

    @Test func garbageNeverCrashesNorLosesBytes() {
        let small = DecoderHarness(proto: PostgresProtocol.self, limits: DecoderLimits(maxLineLength: 64, maxMessageBytes: 48, maxHeaderBytes: 64))
        let clientSeeds = [PG.clientPlain.flatMap { $0 }, PG.saslConversation.filter { $0.0 == .client }.flatMap(\.1)]
        let serverSeeds = [PG.serverPlain.flatMap { $0 }, PG.saslConversation.filter { $0.0 == .server }.flatMap(\.1)]
        for h in [harness, small] {
            h.expectSurvivesGarbage(seedCorpus: clientSeeds, .client, iterations: 200)
            h.expectSurvivesGarbage(seedCorpus: serverSeeds, .server, iterations: 200)
        }
    }

    @Test func aLongPipelineKeepsItsMessageListShort() {
        let pipeline = PG.startup + PG.parse + (0..<300).flatMap { _ in PG.bind(["1", "2"]) + PG.execute } + PG.sync
        let cuts = harness.decode([pipeline], .client)
        #expect(cuts.count == 2)
        let list = cuts.last.flatMap(messages) ?? ""
        #expect(list.hasPrefix("Parse,Bind,Execute,Bind,Execute,") && list.hasSuffix(",…") && list.utf8.count < 600, "\(list)")
        #expect(cuts.last?.exchange == .request(method: "UPDATE", target: PG.updateSQL))
    }

    @Test func statementKindsSkipBlanksAndComments() {
        let cuts = harness.decode([PG.startup + PG.query("  /* hi */ -- note\n (select 1)") + PG.query(";") + PG.query("with x as (select 1) select * from x")], .client)
        #expect(cuts.map(\.exchange) == [
            .request(method: "STARTUP", target: "alice@shop"),
            .request(method: "SELECT", target: "  /* hi */ -- note\n (select 1)"),
            .request(method: "Query", target: ";"),
            .request(method: "WITH", target: "with x as (select 1) select * from x"),
        ])
        let cancel = harness.decode([PG.cancelRequest], .client)
        #expect(cancel.map(messages) == ["CancelRequest"] && cancel.first?.exchange == nil)
    }

    @Test func recognisesTheStartupPhaseMessages() {
        func recognise(_ bytes: [UInt8]) -> Recognition { PostgresProtocol.recognise(ByteBuffer(bytes: bytes).readableBytesView) }
        #expect(recognise(PG.sslRequest) == .yes)
        #expect(recognise(PG.gssencRequest) == .yes)
        #expect(recognise(PG.cancelRequest) == .yes)
        #expect(recognise(PG.startup) == .yes)
        #expect(recognise(Array(PG.startup.prefix(8))) == .yes)
        #expect(recognise(Array(PG.startup.prefix(5))) == .needMore)
        #expect(recognise([]) == .needMore)
        #expect(recognise(Array("GET / HTTP/1.1\r\n".utf8)) == .no)
        #expect(recognise(PG.int32(20) + PG.int32(80_877_103)) == .no)
        #expect(recognise(PG.int32(20_000) + PG.int32(196_608)) == .no)
        #expect(recognise(PG.int32(8) + PG.int32(12345)) == .no)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `PG_BENCH=1 swift test -c release --filter PostgresBench`: decoding cost per pgbench
/// (-M prepared, TPC-B) transaction, both directions through `MessageStream`.
@Suite struct PostgresBench {
    @Test(.enabled(if: getenv("PG_BENCH") != nil)) func pgbenchPreparedTransactions() {
        func bes(_ values: [String]) -> [UInt8] { PG.bind(values) + PG.execute + PG.sync }
        var client: [UInt8] = PG.startup
        var server: [UInt8] = PG.auth(0) + PG.ready()
        let transactions = 20_000
        for i in 0..<transactions {
            for _ in 0..<7 { client += bes(["\(i)", "42"]) }
            for statement in 0..<7 {
                server += PG.msg("2")
                if statement == 3 { server += PG.dataRow("\(i)") }
                server += PG.complete(statement == 3 ? "SELECT 1" : "UPDATE 1") + PG.ready(statement == 6 ? "I" : "T")
            }
        }
        let limits = DecoderLimits()
        // PG_BENCH=corpus builds the corpus only: `perf stat -e instructions:u` of both runs tells
        // decoding's instructions apart from the rest on a busy machine.
        if let mode = getenv("PG_BENCH"), String(cString: mode) == "corpus" { return }
        for (side, bytes) in [(Sender.client, client), (.server, server)] {
            let chunks = stride(from: 0, to: bytes.count, by: 8192).map { ByteBuffer(bytes: bytes[$0..<min($0 + 8192, bytes.count)]) }
            var count = 0
            var nanos = Double.infinity
            // The fastest of a few runs: the machine is shared.
            for _ in 0..<7 {
                let pair = PostgresProtocol.makeDecoders(limits: limits)
                var stream = MessageStream(decoder: side == .client ? pair.client : pair.server, limits: limits)
                count = 0
                var start = timespec()
                clock_gettime(CLOCK_MONOTONIC, &start)
                for chunk in chunks { stream.feed(chunk) { _ in count += 1 } }
                stream.finish { _ in count += 1 }
                var end = timespec()
                clock_gettime(CLOCK_MONOTONIC, &end)
                nanos = min(nanos, Double(end.tv_sec - start.tv_sec) * 1e9 + Double(end.tv_nsec - start.tv_nsec))
            }
            print("postgres \(side): \(count) turns, \(bytes.count) bytes, \(Int(nanos / Double(count))) ns/turn, \(Int(Double(bytes.count) / nanos * 1000)) MB/s, \(Int(nanos / Double(transactions) / 1000)) µs/transaction")
            #expect(count == transactions * 7 + 1)
        }
    }
}
