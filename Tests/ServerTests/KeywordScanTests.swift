@testable import Recording
import Testing
import TestSupport

/// The redactor looks for all the keywords of a side's rules in one vectorised pass; it must find
/// exactly what looking for each keyword on its own, in any case, finds: at both ends of a
/// message, across the 16-byte vectors and 64-byte steps it reads, in messages shorter than a
/// step, among bytes that only look alike once folded (`@` and `` ` ``, `A` and `a`).
@Suite struct KeywordScanTests {
    static let keywordSets: [[String]] = [
        // The benchmark's five rules, as their keywords.
        ["auth", "authorization", "cookie", "token=", "password:"],
        ["data"],
        // Shared first bytes and pairs, and keywords that do not start with a letter.
        ["ab", "abc", "ax", "ba"],
        ["=:x", "-_/", "9ab", "@x", " ,"],
    ]

    @Test(arguments: keywordSets)
    func oneScanFindsWhatASearchForEachKeywordFinds(_ words: [String]) {
        let keywords = words.map { Array($0.utf8) }
        let scan = KeywordScan(keywords: keywords)
        var messages = Self.placed(keywords) + Self.generated(keywords, count: 3000, seed: 16)
        messages.append([])
        var found = 0
        for message in messages {
            let expected = keywords.map { Self.containsIgnoringCase(message, $0) }
            let actual = message.withUnsafeBufferPointer { bytes in scan.withFound(in: bytes) { Array($0) } }
            #expect(actual == expected, "\(message)")
            #expect(message.withUnsafeBufferPointer(scan.containsAny) == expected.contains(true), "\(message)")
            found += expected.filter { $0 }.count
        }
        // Both answers are common: the messages try the scan, not just one side of it.
        #expect(found > messages.count / 4)
        #expect(messages.count(where: { message in !keywords.contains { Self.containsIgnoringCase(message, $0) } }) > messages.count / 10)
    }

    @Test func eachKeywordIsLookedForOnceHoweverManyRulesNameIt() {
        let scan = KeywordScan(keywords: ["auth", "cookie", "auth"].map { Array($0.utf8) })
        #expect(scan.keywords == ["auth", "cookie"].map { Array($0.utf8) })
    }

    /// The benchmark's five rules store in every message what they store with no keyword checked
    /// before they run: the checks only ever keep a rule off a message it would find nothing in.
    @Test func rulesStoreWhatTheyStoreWithoutTheirKeywordCheck() throws {
        let checked = RedactionPreset.labData.rules() + RedactionPreset.redisAuth.rules() + RedactionPreset.httpAuth.rules()
            + [try RedactionRule(name: "token", pattern: #"token=(\w+)"#), try RedactionRule(name: "password", pattern: #"(?i)password: *(\S+)"#)]
        let unchecked = checked.map { rule in
            RedactionRule(name: rule.name, direction: rule.direction, source: rule.source, preset: rule.preset, matcher: rule.matcher, anyOf: [])
        }
        #expect(checked.contains { !$0.anyOf.isEmpty })
        let key = Array(repeating: UInt8(3), count: 32)
        let withChecks = Redactor(rules: checked, key: key)
        let withoutChecks = Redactor(rules: unchecked, key: key)
        let pieces = RedactionMatcherTests.separators + [
            "*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n", "auth hunter2\r\n", "AUTH", "Auth", "AUT", "\r\nCookie: a=1",
            "Authorization: Basic x", "COOKIE:", "cookie", "token=abc", "TOKEN=x", "token", "Password: pw", "PASSWORD:", "passwor",
            "DATA x", "data",
        ].map { Array($0.utf8) }
        let hidden = RedactionMatcherTests.expectStoredAlike(
            withChecks, withoutChecks, messages: RedactionMatcherTests.generated(from: pieces, count: 1500, seed: 18),
            sender: { $0 % 3 == 0 ? .server : .client })
        #expect(hidden > 300)
    }

    /// The old definition: each keyword on its own, each position, letters in either case.
    static func containsIgnoringCase(_ message: [UInt8], _ keyword: [UInt8]) -> Bool {
        guard message.count >= keyword.count else { return false }
        return (0...message.count - keyword.count).contains { start in
            keyword.indices.allSatisfy { index in
                let byte = message[start + index]
                let lowered = (0x41...0x5a).contains(byte) ? byte + 0x20 : byte
                return lowered == keyword[index]
            }
        }
    }

    /// Each keyword, in a mixed case, alone and cut short, in random bytes at every offset near a
    /// vector's or a step's edge, ending a message or straddling an edge, in messages of
    /// lengths around those edges.
    static func placed(_ keywords: [[UInt8]]) -> [[UInt8]] {
        let edges = [0, 1, 14, 15, 16, 17, 31, 32, 33, 47, 48, 49, 62, 63, 64, 65, 66, 127, 128, 129, 130]
        var messages: [[UInt8]] = []
        for (number, keyword) in keywords.enumerated() {
            let mixed = keyword.enumerated().map { $0.offset % 2 == 0 ? ByteMatchers.upper($0.element) : $0.element }
            for length in [keyword.count, 20, 63, 64, 65, 66, 80, 129, 130, 200] where length >= keyword.count {
                let filler = randomBytes(length, seed: UInt64(number * 1000 + length))
                for edge in edges {
                    for start in [edge, edge - keyword.count, edge - 1] where start >= 0 && start + keyword.count <= length {
                        var message = filler
                        message.replaceSubrange(start..<start + keyword.count, with: mixed)
                        messages.append(message)
                        // Cut short by one byte: must not be found (unless the filler made it).
                        message[start + keyword.count - 1] ^= 0x5a
                        messages.append(message)
                    }
                }
                messages.append(Array(filler.prefix(length - keyword.count)) + mixed)
            }
        }
        return messages
    }

    /// `count` messages of 0 to 150 bytes: random bytes, keywords in random cases (often cut
    /// short by a byte), and bytes that fold into a keyword's first byte.
    static func generated(_ keywords: [[UInt8]], count: Int, seed: UInt64) -> [[UInt8]] {
        var random = randomBytes(count * 400, seed: seed)[...]
        func next() -> Int { Int(random.popFirst()!) }
        return (0..<count).map { _ in
            let length = next() * 150 / 255
            var message: [UInt8] = []
            while message.count < length {
                switch next() % 4 {
                case 0:
                    var keyword = keywords[next() % keywords.count].map { next() % 2 == 0 ? ByteMatchers.upper($0) : $0 }
                    if next() % 3 == 0 { keyword.removeLast() }
                    message += keyword
                case 1:
                    message.append(keywords[next() % keywords.count][0] ^ 0x20)
                default:
                    message += (0..<next() % 40).map { _ in UInt8(next()) }
                }
            }
            return message
        }
    }
}
