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
        var kept: [UInt8] = []
        var origins: [Int] = []
        kept.reserveCapacity(bytes.count)
        origins.reserveCapacity(bytes.count)
        var position = 0
        for range in matchRanges(in: bytes) + [bytes.count..<bytes.count] {
            kept += bytes[position..<range.lowerBound]
            origins += position..<range.lowerBound
            position = range.upperBound
        }
        return Masked(bytes: kept, origins: origins, count: bytes.count)
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
            var scalars = String.UnicodeScalarView()
            scalars.append(contentsOf: bytes.map { Unicode.Scalar($0) })
            let text = String(scalars)
            for regex in regexes {
                for match in text.matches(of: regex) where !match.range.isEmpty {
                    let lower = text.unicodeScalars.distance(from: text.startIndex, to: match.range.lowerBound)
                    let upper = text.unicodeScalars.distance(from: text.startIndex, to: match.range.upperBound)
                    found.append(lower..<upper)
                }
            }
        }
        found.sort { $0.lowerBound < $1.lowerBound }
        var merged: [Range<Int>] = []
        for range in found {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
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
