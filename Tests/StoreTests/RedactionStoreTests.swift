import Backends
import Foundation
import Logging
import Recording
import Testing
import TestSupport

/// What the tape does with redaction rules, through a real recorder into a real store: spans,
/// tokens keyed per store, binary-safe matching, payloads that follow their bytes.
@Suite struct RedactionStoreTests {
    private static let logger: Logger = {
        var logger = Logger(label: "test.redaction")
        logger.logLevel = .critical
        return logger
    }()

    /// Records `messages` (client side) as one session with `rules` (and, unless told otherwise,
    /// the store's); returns what was stored.
    private func record(_ messages: [(raw: [UInt8], payload: Range<Int>?)], rules: [RedactionRule],
                        into store: StoreLocation, useStoreRules: Bool = true) async throws -> [StoredMessage] {
        var settings = RecorderSettings()
        settings.redactionRules = rules
        settings.useStoreRules = useStoreRules
        let recorder = try await store.openRecorder(settings, logger: Self.logger)
        let tape = SessionTape(sink: recorder, info: SessionInfo(
            kind: .proxy, decoding: .raw, clientHost: "127.0.0.1", clientPort: 5000,
            serverHost: "127.0.0.1", serverPort: 6379, startedMicros: WallClock.nowMicros()))
        for message in messages {
            tape.countWireBytes(message.raw.count, from: .client)
            tape.record(.client, message.raw, verb: message.payload == nil ? nil : "DATA", payloadRange: message.payload)
        }
        tape.end(.clientClosed)
        await recorder.shutdown()
        return try await store.withStore(.read) { store in
            // The newest session.
            let id = try #require(try await store.list(SessionFilter(), limit: 1).first?.id)
            return try await store.messages(ofSession: id)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func equalSecretsGetEqualTokensWithinAStoreAndOthersElsewhere(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let rule = try RedactionRule(name: "token", pattern: #"token=(\w+)"#)
        let raw = Array("a token=abc123 then token=abc123 and token=zzz\n".utf8)
        let first = try await record([(raw, nil)], rules: [rule], into: try backend.freshStore(in: directory, name: "one"))
        let other = try await record([(raw, nil)], rules: [rule], into: try backend.freshStore(in: directory, name: "two"))
        let message = try #require(first.first)
        #expect(message.redactions.map(\.length) == [6, 6, 3])
        #expect(message.redactions.allSatisfy { $0.rule == "token" })
        let tokens = message.redactions.map { $0.token(in: message.raw) }
        #expect(tokens[0] == tokens[1] && tokens[0] != tokens[2])
        #expect(tokens.allSatisfy { $0.count == RedactedSpan.tokenLength && $0.hasPrefix("REDACTED-") })
        #expect(message.originalLength == raw.count)
        #expect(String(decoding: message.raw, as: UTF8.self) == "a token=\(tokens[0]) then token=\(tokens[1]) and token=\(tokens[2])\n")
        // Another store has another key: the same secret gets another token.
        let otherMessage = try #require(other.first)
        #expect(otherMessage.redactions.first.map { $0.token(in: otherMessage.raw) } != tokens[0])
    }

    @Test(arguments: TestBackend.allCases)
    func rulesReadBytesNotTextAndPayloadsFollowTheirBytes(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        // Bytes that are not UTF-8 around the secret, and a NUL inside it.
        let binary: [UInt8] = [0xff, 0xfe] + Array("key:".utf8) + [0x01, 0x00, 0x02] + [0x80, 0x0a]
        let key = try RedactionRule(name: "key", pattern: #"key:([\x00-\x02]+)"#, direction: .client)
        let serverOnly = try RedactionRule(name: "server-only", pattern: "DATA", direction: .server)
        let lab = RedactionPreset.labData.rules()
        let dataLine = Array("DATA lab-secret\n".utf8)
        let stored = try await record([(binary, nil), (dataLine, 5..<15)], rules: [key, serverOnly] + lab,
                                      into: try backend.freshStore(in: directory))
        #expect(stored[0].redactions == [RedactedSpan(offset: 6, length: 3, rule: "key")])
        #expect(Array(stored[0].raw.prefix(6)) == [0xff, 0xfe] + Array("key:".utf8))
        #expect(Array(stored[0].raw.suffix(2)) == [0x80, 0x0a])
        #expect(stored[0].originalLength == binary.count)
        // The server-only rule left the client's DATA alone; the payload column holds the token.
        #expect(stored[1].verb == "DATA")
        #expect(stored[1].redactions.map(\.rule) == ["lab-data"])
        #expect(stored[1].payload.map { Array($0) } == Array(stored[1].raw[5..<5 + RedactedSpan.tokenLength]))
        #expect(stored[1].recorded.payloadRange == 5..<5 + RedactedSpan.tokenLength)
    }

    /// A store remembers the rules it was recorded with (never a secret): a later recorder given
    /// no rule applies them, one given more adds them (a `ruleN` numbered after the store's), and
    /// `useStoreRules: false` (`--no-store-rules`) applies only its own and adds nothing.
    @Test(arguments: TestBackend.allCases)
    func aStoreRemembersItsRulesForEveryLaterRecorder(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        let message = Array("GET / HTTP/1.1\r\nAuthorization: Bearer first-secret\r\nX: token=t0ken key=k3y\r\n\r\n".utf8)
        let first = try await record([(message, nil)], rules: RedactionPreset.httpAuth.rules() + [try RedactionRule(name: "rule1", pattern: #"token=(\w+)"#)],
                                     into: store)
        #expect(first[0].redactions.map(\.rule) == ["http-auth", "rule1"])

        let later = try await record([(message, nil)], rules: [], into: store)
        #expect(later[0].redactions.map(\.rule) == ["http-auth", "rule1"])
        #expect(later[0].raw == first[0].raw)

        let more = try await record([(message, nil)], rules: [try RedactionRule(name: "rule1", pattern: #"key=(\w+)"#, direction: .client)],
                                    into: store)
        #expect(more[0].redactions.map(\.rule) == ["http-auth", "rule1", "rule2"])
        let remembered = try await store.withStore(.read) { try await $0.redaction().rules.map(\.description) }
        #expect(remembered == ["http-auth", #"rule1 (both) token=(\w+)"#, #"rule2 (client) key=(\w+)"#])
        // The store's files hold the rules, never what they hid (k3y was only hidden from the third on).
        for secret in ["first-secret", "t0ken"] {
            #expect(try StoreFiles.occurrences(of: secret, in: store) == 0, "\(secret)")
        }

        let own = try await record([(message, nil)], rules: [try RedactionRule(name: "own", pattern: "X: (t)")], into: store, useStoreRules: false)
        #expect(own[0].redactions.map(\.rule) == ["own"])
        #expect(try await store.withStore(.read) { try await $0.redaction().rules.count } == 3)
    }

    /// With raw decoding (a proxy, a replay's own recording) a bare DATA and its payload line can
    /// be two messages: lab-data hides the line after the bare DATA, whatever it says.
    @Test(arguments: TestBackend.allCases)
    func rulesRememberWhatTheSessionSaidBefore(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let stored = try await record([
            (Array("HELO x\nDATA\n".utf8), nil), (Array("payload-line-secret\r\nQUIT\n".utf8), nil),
            (Array("DATA inline-secret\n".utf8), nil), (Array("HELO after\n".utf8), nil),
        ], rules: RedactionPreset.labData.rules(), into: try backend.freshStore(in: directory))
        #expect(stored.map(\.redactions.count) == [0, 1, 1, 0])
        #expect(stored[1].redactions.first?.length == "payload-line-secret".utf8.count)
        #expect(String(decoding: stored[1].raw.suffix(7), as: UTF8.self) == "\r\nQUIT\n")
        #expect(String(decoding: stored[3].raw, as: UTF8.self) == "HELO after\n")
    }
}
