import Replay
import Recording
import Testing

@Suite struct ReplayPlanTests {
    private func session(_ messages: [(Sender, String, Int64)], endReason: String? = "client_closed",
                         endedAt: Int64? = 10_000) -> CompleteSession {
        let info = SessionInfo(kind: .proxy, decoding: .raw, clientHost: "127.0.0.1", clientPort: 1,
                               serverHost: "127.0.0.1", serverPort: 2, startedMicros: 1_000)
        let recorded = messages.enumerated().map { index, message in
            RecordedMessage(seq: Int64(index + 1), atMicros: message.2, sender: message.0, raw: Array(message.1.utf8))
        }
        let end = endedAt.map {
            SessionEnd(atMicros: $0, reason: endReason.flatMap(EndReason.init(rawValue:)) ?? .error,
                       bytesFromClient: 0, bytesFromServer: 0, messageCount: Int64(recorded.count))
        }
        return CompleteSession(id: 7, info: info, end: end, endReason: endReason, messages: recorded)
    }

    @Test func aGreetingComesFirstThenOneStepPerClientMessage() {
        let plan = ReplayPlan(session([
            (.server, "220 ready\r\n", 1_100),
            (.client, "EHLO x\r\n", 1_500), (.server, "250-hi\r\n", 1_600), (.server, "250 ok\r\n", 1_700),
            (.client, "QUIT\r\n", 2_500), (.server, "221 bye\r\n", 2_550),
        ], endReason: "server_closed"))
        #expect(plan.sessionID == 7)
        #expect(plan.steps.map(\.kind) == [.greeting, .send, .send])
        #expect(plan.steps.map { String(decoding: $0.send, as: UTF8.self) } == ["", "EHLO x\r\n", "QUIT\r\n"])
        #expect(plan.steps.map { String(decoding: $0.expected, as: UTF8.self) } == ["220 ready\r\n", "250-hi\r\n250 ok\r\n", "221 bye\r\n"])
        // Gaps run from the session start, then from client message to client message.
        #expect(plan.steps.map(\.gapMicros) == [0, 500, 1_000])
        // Latency: to the last server byte before the next client message.
        #expect(plan.steps.map(\.recordedLatencyMicros) == [100, 200, 50])
        #expect(plan.ending == .serverCloses(reason: "server_closed"))
    }

    @Test func pipelinedMessagesExpectNothingUntilTheLastOfThem() {
        let plan = ReplayPlan(session([
            (.client, "HELO\n", 1_010), (.client, "HELO\n", 1_011),
            (.server, "100 OK\n", 1_200), (.server, "100 OK\n", 1_201),
        ]))
        #expect(plan.steps.map(\.expected.count) == [0, 14])
        #expect(plan.steps.map(\.recordedLatencyMicros) == [nil, 190])
        #expect(plan.steps.allSatisfy { $0.kind == .send })
    }

    @Test func theEndingFollowsWhoClosedAndWhen() {
        let answered = [(Sender.client, "DATA x", Int64(1_010)), (.server, "300 DRCV\n", 1_300)]
        #expect(ReplayPlan(session(answered, endReason: "quit")).ending == .serverCloses(reason: "quit"))
        #expect(ReplayPlan(session(answered, endReason: "line_too_long")).ending == .serverCloses(reason: "line_too_long"))
        // The client closed after the reply, or before it (the server answered the end of input).
        #expect(ReplayPlan(session(answered, endedAt: 1_400)).ending == .clientCloses(beforeLastReply: false))
        #expect(ReplayPlan(session(answered, endedAt: 1_200)).ending == .clientCloses(beforeLastReply: true))
        for reason in ["reset", "idle_timeout", "shutdown", "storage_error", "something new"] {
            #expect(ReplayPlan(session(answered, endReason: reason)).ending == .hangUp)
        }
        #expect(ReplayPlan(session(answered, endReason: nil, endedAt: nil)).ending == .hangUp)
    }

    @Test func aSessionWithoutMessagesHasNoSteps() {
        let plan = ReplayPlan(session([], endReason: "client_closed"))
        #expect(plan.steps.isEmpty)
        #expect(plan.ending == .clientCloses(beforeLastReply: false))
    }

    /// A secret of another length than the recorded one: the RESP bulk length and the PostgreSQL
    /// message length in front of it are put right; where there is none, the rule is named.
    @Test func aSecretOfAnotherLengthGetsTheLengthInFrontOfItPutRight() throws {
        let token = Array("REDACTED-0123456789ab".utf8)
        var secrets = ReplaySecrets()
        secrets.set("redis-auth", Array("short".utf8))
        secrets.set("postgres-password", Array("newpass\0".utf8))
        secrets.set("custom", Array("xy".utf8))

        /// The bytes sent for `send` with `span` restored, and the rules left unframed.
        func restored(_ send: [UInt8], _ span: RedactedSpan) throws -> (bytes: [UInt8], unframed: [String]) {
            let message = try secrets.restore(send, [span]).get()
            return (message.bytes, message.unframed)
        }
        let resp = Array("*2\r\n$4\r\nAUTH\r\n$17\r\n".utf8) + token + Array("\r\n".utf8)
        let respSpan = RedactedSpan(offset: resp.count - 2 - token.count, length: 17, rule: "redis-auth")
        #expect(try restored(resp, respSpan) == (Array("*2\r\n$4\r\nAUTH\r\n$5\r\nshort\r\n".utf8), []))

        // 'p', then the length: itself and a 10-byte body (the password and its NUL); first in
        // its turn, or after another message.
        let password: [UInt8] = [UInt8(ascii: "p"), 0, 0, 0, 14] + token
        #expect(try restored(password, RedactedSpan(offset: 5, length: 10, rule: "postgres-password"))
            == ([UInt8(ascii: "p"), 0, 0, 0, 12] + Array("newpass\0".utf8), []))
        let sync: [UInt8] = [UInt8(ascii: "S"), 0, 0, 0, 4]
        #expect(try restored(sync + password, RedactedSpan(offset: 10, length: 10, rule: "postgres-password"))
            == (sync + [UInt8(ascii: "p"), 0, 0, 0, 12] + Array("newpass\0".utf8), []))

        let line = Array("LOGIN ".utf8) + token + [0x0A]
        #expect(try restored(line, RedactedSpan(offset: 6, length: 17, rule: "custom")) == (Array("LOGIN xy\n".utf8), ["custom"]))
        // The same length needs nothing put right.
        #expect(try restored(line, RedactedSpan(offset: 6, length: 2, rule: "custom")).unframed.isEmpty)
    }
}
