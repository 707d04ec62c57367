import Foundation
import Recording
import Testing
import TestSupport

/// Bad redaction rules are refused in one clear line before anything listens or a store is made.
@Suite struct RedactionRuleTests {
    @Test func badRulesAreRefusedBeforeListening() throws {
        let directory = TemporaryDirectory()
        let db = directory.file("never.sqlite")
        let cases: [([String], String)] = [
            (["--redact", "AUTH (\\S+"], "--redact AUTH (\\S+: not a valid regular expression"),
            (["--redact-preset", "mysql-auth"], "--redact-preset mysql-auth: no such preset (there are redis-auth, http-auth, smtp-auth, postgres-password, lab-data)"),
            (["--redact", ".*"], "--redact .*: it matches the empty string"),
            (["--redact", "[\\s\\S]+"], "--redact [\\s\\S]+: it would hide every byte of every message"),
            (["--redact", "a", "--redact", "b", "--redact-direction", "client", "--redact-direction", "server", "--redact-direction", "both"],
             "--redact-direction: give it once for every --redact, or once per --redact"),
        ]
        for command in [["serve", "--listen", "127.0.0.1:0"], ["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9"]] {
            for (arguments, message) in cases {
                let result = try WirelogProcess.run(command + ["--db", db] + arguments, timeout: 30)
                #expect(result.status == 64, "\(command + arguments): \(result.stderrText)")
                #expect(result.stderrText.contains(message), "\(command + arguments): \(result.stderrText)")
                #expect(!result.stderrText.contains("listening on"))
                #expect(!FileManager.default.fileExists(atPath: db))
            }
        }
    }

    @Test func aRulesFileNamesItsRulesAndSaysWhichLineIsWrong() throws {
        let directory = TemporaryDirectory()
        let db = directory.file("never.sqlite")
        let good = directory.file("good.rules")
        try Data("# secrets\nname=api-key direction=client X-Api-Key: (\\S+)\npreset=http-auth\n".utf8).write(to: URL(fileURLWithPath: good))
        let bad = directory.file("bad.rules")
        try Data("name=ok AUTH (\\S+)\n\ndirection=sideways x(y)\n".utf8).write(to: URL(fileURLWithPath: bad))
        let refused = try WirelogProcess.run(["serve", "--listen", "127.0.0.1:0", "--db", db, "--redact-file", bad])
        #expect(refused.status == 64)
        #expect(refused.stderrText.contains("--redact-file \(bad): line 3: direction=sideways: use client, server or both"), "\(refused.stderrText)")
        let rules = try RedactionRule.rules(fromFile: String(contentsOfFile: good, encoding: .utf8), firstNumber: 3)
        #expect(rules.map(\.name) == ["api-key", "http-auth"])
        #expect(rules.map(\.direction) == [.client, .both])
        let unnamed = try RedactionRule.rules(fromFile: "token=(\\w+)\n", firstNumber: 3)
        #expect(unnamed.map(\.name) == ["rule3"])
        #expect(unnamed.map(\.source) == ["token=(\\w+)"])
    }
}

/// The cheap test before a regex runs must never skip a message the regex would match.
@Suite struct RedactionPrefilterTests {
    @Test func aRuleFindsWhatItsRegexFindsWhateverTheCase() throws {
        let cases: [(pattern: String, message: String, hidden: String?)] = [
            (#"token=(\w+)"#, "a token=abc1 b", "abc1"),
            (#"(?i)password: *(\S+)"#, "PASSWORD:hunter2\r\n", "hunter2"),
            (#"(?i)password: *(\S+)"#, "Password:   x9\r\n", "x9"),
            (#"ab?c=(\d+)"#, "ac=42", "42"),
            (#"key|secret=(\S+)"#, "secret=1", "1"),
            (#"token=(\w+)"#, "TOKEN=abc", nil),
            // The literal at the very end, after near misses of its first letters in both cases.
            (#"(?i)password:(\S+)"#, "p P pass PASSWORD PaSsWoRd:z", "z"),
            (#"(?i)x=(\w)"#, "aaaaaaaaX=1", "1"),
        ]
        for (pattern, message, hidden) in cases {
            let rule = try RedactionRule(name: "r", pattern: pattern)
            let redactor = Redactor(rules: [rule], key: Array(repeating: 7, count: 32))
            var recorded = RecordedMessage(seq: 1, atMicros: 0, sender: .client, raw: Array(message.utf8))
            var state = RedactionState()
            redactor.redact(&recorded, state: &state)
            #expect(recorded.redactions.map(\.length) == (hidden.map { [$0.utf8.count] } ?? []), "\(pattern) on \(message)")
            #expect(recorded.originalLength == message.utf8.count)
        }
    }
}

/// Tokens are the first 48 bits of HMAC-SHA256(key, secret): RFC 4231's test vectors, with a key
/// shorter than a block (padded) and one longer (hashed first).
@Suite struct RedactionTokenTests {
    @Test func tokensAreTheStartOfHMACSHA256() {
        let short = Redactor(rules: [], key: Array("Jefe".utf8))
        #expect(short.token(for: "what do ya want for nothing?".utf8) == Array("REDACTED-5bdcc146bf60".utf8))
        let long = Redactor(rules: [], key: Array(repeating: 0xaa, count: 131))
        #expect(long.token(for: "Test Using Larger Than Block-Size Key - Hash Key First".utf8) == Array("REDACTED-60e431591ee0".utf8))
    }
}
