import Recording

/// Masks volatile parts of replies (timestamps, ids) before they are compared: every match
/// of any pattern, in recorded and actual bytes alike, is left out of the comparison.
/// (Dropping rather than replacing with a placeholder lets a pattern that only one side
/// matches, such as `\r` against changed line endings, ignore that difference too.)
/// Not Sendable (compiled regexes are not): each replay task compiles its own from the patterns.
public struct Masking {
    public let patterns: [String]
    private let regexes: [Regex<AnyRegexOutput>]

    public static var none: Masking { Masking() }

    private init() {
        patterns = []
        regexes = []
    }

    /// Compiles `patterns` (Swift regex syntax, matched per Unicode scalar so `\r\n` is two characters).
    public init(patterns: [String]) throws(MaskingError) {
        var regexes: [Regex<AnyRegexOutput>] = []
        for pattern in patterns {
            do {
                regexes.append(try Regex(pattern).matchingSemantics(.unicodeScalar))
            } catch {
                throw MaskingError(pattern: pattern, reason: String(describing: error))
            }
        }
        self.patterns = patterns
        self.regexes = regexes
    }

    public var isEmpty: Bool { regexes.isEmpty }

    /// `bytes` without the matched stretches; `origins[i]` is where kept byte `i` was in `bytes`.
    func mask(_ bytes: [UInt8]) -> Masked {
        var masked = Masked(bytes: [], origins: [], count: bytes.count)
        masked.bytes.reserveCapacity(bytes.count)
        masked.origins.reserveCapacity(bytes.count)
        var position = 0
        for range in matchRanges(in: bytes) + [bytes.count..<bytes.count] {
            masked.keep(bytes, position..<range.lowerBound)
            position = range.upperBound
        }
        return masked
    }

    /// Byte ranges matched by any pattern, sorted and merged where they overlap or touch.
    private func matchRanges(in bytes: [UInt8]) -> [Range<Int>] {
        // Valid UTF-8 is matched as text; anything else byte for byte (as Latin-1), so a
        // pattern still finds ASCII parts of binary replies.
        var found: [Range<Int>] = []
        if let text = String(validating: bytes, as: UTF8.self) {
            for regex in regexes {
                for match in text.matches(of: regex) where !match.range.isEmpty {
                    let lower = text.utf8.distance(from: text.startIndex, to: match.range.lowerBound)
                    let upper = text.utf8.distance(from: text.startIndex, to: match.range.upperBound)
                    found.append(lower..<upper)
                }
            }
        } else {
            let text = ByteText(bytes)
            for regex in regexes {
                for match in text.string.matches(of: regex) where !match.range.isEmpty {
                    found.append(text.offsets(match.range))
                }
            }
        }
        return found.mergedRanges()
    }
}

public struct MaskingError: Error, CustomStringConvertible {
    public let pattern: String
    public let reason: String
    public var description: String { "--ignore \(pattern): not a valid regular expression (\(reason))" }
}

struct Masked {
    var bytes: [UInt8]
    var origins: [Int]
    /// Length of the original bytes.
    var count: Int

    /// Where kept byte `index` was; the original end for the end of the kept bytes.
    func origin(of index: Int) -> Int { index < origins.count ? origins[index] : count }

    /// Keeps `range` of `original`.
    mutating func keep(_ original: [UInt8], _ range: Range<Int>) {
        bytes += original[range]
        origins += range
    }
}

/// Where recorded and actual bytes first differ, as offsets into each (they differ only
/// when masked stretches before the difference had different lengths).
public struct Difference: Sendable, Equatable {
    public var expectedOffset: Int
    public var actualOffset: Int

    public init(expectedOffset: Int, actualOffset: Int) {
        self.expectedOffset = expectedOffset
        self.actualOffset = actualOffset
    }

    /// nil when the bytes are equal once masked. `redacted`: where tokens stand in `expected`; each
    /// is skipped together with whatever the actual bytes hold in its place (up to where the recorded
    /// bytes after the token resume), as `--ignore` skips what it matches.
    public static func between(expected: [UInt8], actual: [UInt8], masking: Masking = .none,
                               redacted: [Range<Int>]) -> Difference? {
        guard !redacted.isEmpty else { return between(expected: expected, actual: actual, masking: masking) }
        var expectedKept = Masked(bytes: [], origins: [], count: expected.count)
        var actualKept = Masked(bytes: [], origins: [], count: actual.count)
        var expectedPosition = 0
        var actualPosition = 0
        let tokens = redacted.sorted { $0.lowerBound < $1.lowerBound }
        for (index, token) in tokens.enumerated() where token.lowerBound >= expectedPosition && token.upperBound <= expected.count {
            let literal = token.lowerBound - expectedPosition
            expectedKept.keep(expected, expectedPosition..<token.lowerBound)
            let actualLiteralEnd = min(actual.count, actualPosition + literal)
            actualKept.keep(actual, actualPosition..<actualLiteralEnd)
            // The secret ends where the next few recorded bytes after the token appear again.
            let nextToken = index + 1 < tokens.count ? tokens[index + 1].lowerBound : expected.count
            let anchor = expected[token.upperBound..<min(nextToken, token.upperBound + 8)]
            if anchor.isEmpty {
                actualPosition = nextToken == expected.count ? actual.count : actualLiteralEnd
            } else {
                actualPosition = (actualLiteralEnd..<actual.count).first { actual[$0...].starts(with: anchor) } ?? actual.count
            }
            expectedPosition = token.upperBound
        }
        expectedKept.keep(expected, expectedPosition..<expected.count)
        actualKept.keep(actual, actualPosition..<actual.count)
        guard let inner = between(expected: expectedKept.bytes, actual: actualKept.bytes, masking: masking) else { return nil }
        return Difference(expectedOffset: expectedKept.origin(of: inner.expectedOffset),
                          actualOffset: actualKept.origin(of: inner.actualOffset))
    }

    /// nil when the bytes are equal once masked.
    public static func between(expected: [UInt8], actual: [UInt8], masking: Masking = .none) -> Difference? {
        if masking.isEmpty {
            guard let offset = firstDifference(expected, actual) else { return nil }
            return Difference(expectedOffset: offset, actualOffset: offset)
        }
        let left = masking.mask(expected)
        let right = masking.mask(actual)
        guard let index = firstDifference(left.bytes, right.bytes) else { return nil }
        return Difference(expectedOffset: left.origin(of: index), actualOffset: right.origin(of: index))
    }

    /// The first index where `a` and `b` differ, or where the shorter one ends; nil when equal.
    private static func firstDifference<T: Equatable>(_ a: [T], _ b: [T]) -> Int? {
        let common = min(a.count, b.count)
        for index in 0..<common where a[index] != b[index] { return index }
        return a.count == b.count ? nil : common
    }
}
