import Replay
import Testing

@Suite struct ComparisonTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func equalBytesHaveNoDifference() {
        #expect(Difference.between(expected: bytes("100 OK\n"), actual: bytes("100 OK\n")) == nil)
        #expect(Difference.between(expected: [], actual: []) == nil)
    }

    @Test func theFirstDifferingOffsetIsReported() {
        #expect(Difference.between(expected: bytes("100 OK\n"), actual: bytes("100 OK\r\n"))
                == Difference(expectedOffset: 6, actualOffset: 6))
        #expect(Difference.between(expected: bytes("$5\r\nhello\r\n"), actual: bytes("$5\r\njello\r\n"))
                == Difference(expectedOffset: 4, actualOffset: 4))
        // One side a prefix of the other: the difference is where the shorter ends.
        #expect(Difference.between(expected: bytes("300 DRCV\n"), actual: bytes("300"))
                == Difference(expectedOffset: 3, actualOffset: 3))
        #expect(Difference.between(expected: [], actual: bytes("x")) == Difference(expectedOffset: 0, actualOffset: 0))
    }

    @Test func masksMakeVolatilePartsEqualEvenWhenTheirLengthsDiffer() throws {
        let masking = try Masking(patterns: [#"id=\d+"#])
        #expect(Difference.between(expected: bytes("250 ok id=17 at 5\n"), actual: bytes("250 ok id=123456 at 5\n"),
                                   masking: masking) == nil)
        // After a masked stretch of different length, offsets point into each side's own bytes.
        #expect(Difference.between(expected: bytes("id=17 at 5\n"), actual: bytes("id=123456 at 6\n"), masking: masking)
                == Difference(expectedOffset: 9, actualOffset: 13))
        // Without the mask the difference is at the id.
        #expect(Difference.between(expected: bytes("id=17 at 5\n"), actual: bytes("id=123456 at 6\n"))
                == Difference(expectedOffset: 4, actualOffset: 4))
    }

    @Test func aPatternMatchingOneSideOnlyIgnoresThatDifference() throws {
        let masking = try Masking(patterns: [#"\r"#])
        #expect(Difference.between(expected: bytes("100 OK\n"), actual: bytes("100 OK\r\n"), masking: masking) == nil)
        #expect(Difference.between(expected: bytes("100 OK\n"), actual: bytes("200 OK\r\n"), masking: masking)
                == Difference(expectedOffset: 0, actualOffset: 0))
    }

    @Test func masksWorkOnBytesThatAreNotUTF8() throws {
        let masking = try Masking(patterns: [#"t=\d+"#, "\u{FF}"])
        let expected: [UInt8] = [0x00, 0xFF] + Array("t=1;".utf8) + [0xC3]
        let actual: [UInt8] = [0x00] + Array("t=22;".utf8) + [0xC3]
        #expect(Difference.between(expected: expected, actual: actual, masking: masking) == nil)
        let other: [UInt8] = [0x00] + Array("t=22;".utf8) + [0xC4]
        #expect(Difference.between(expected: expected, actual: other, masking: masking)
                == Difference(expectedOffset: 6, actualOffset: 6))
    }

    @Test func overlappingMatchesAreMaskedOnce() throws {
        let masking = try Masking(patterns: ["abc", "bcd"])
        #expect(Difference.between(expected: bytes("xabcdy"), actual: bytes("xy"), masking: masking) == nil)
    }

    @Test func anInvalidPatternIsAClearError() {
        #expect(throws: MaskingError.self) { try Masking(patterns: ["(unclosed"]) }
        do {
            _ = try Masking(patterns: ["ok", "[z-a]"])
        } catch {
            #expect(error.description.hasPrefix("--ignore [z-a]: not a valid regular expression"))
        }
    }

    @Test func percentilesUseTheNearestRank() {
        #expect(Percentiles([]) == nil)
        let hundred = Percentiles((1...100).map(Int64.init))
        #expect(hundred?.p50 == 50)
        #expect(hundred?.p99 == 99)
        let one = Percentiles([42])
        #expect(one?.p50 == 42 && one?.p99 == 42)
    }
}
