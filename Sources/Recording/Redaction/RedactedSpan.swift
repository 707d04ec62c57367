/// One secret a recorder kept off the disk: where its token stands in the stored bytes, how many
/// bytes it hid, and the rule that hid it. The token is `RedactedSpan.tokenLength` bytes long.
public struct RedactedSpan: Sendable, Equatable, Hashable {
    /// Where the token starts in the stored bytes.
    public var offset: Int
    /// How many bytes of the original message the token stands for.
    public var length: Int
    /// The name of the rule (or preset) that matched.
    public var rule: String

    public init(offset: Int, length: Int, rule: String) {
        self.offset = offset
        self.length = length
        self.rule = rule
    }

    /// `REDACTED-` and 12 hex digits of the keyed hash.
    public static let tokenPrefix: [UInt8] = Array("REDACTED-".utf8)
    public static let hashDigits = 12
    public static let tokenLength = tokenPrefix.count + hashDigits

    /// Whether `bytes` are a token: `REDACTED-` and 12 lower-case hex digits.
    public static func isToken(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.count == tokenLength && bytes.starts(with: tokenPrefix)
            && bytes.dropFirst(tokenPrefix.count).allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// Where the token lies in the stored bytes.
    public var storedRange: Range<Int> { offset..<offset + Self.tokenLength }

    /// The token itself, read from the stored bytes.
    public func token(in raw: [UInt8]) -> String {
        String(decoding: raw[storedRange.clamped(to: 0..<raw.count)], as: UTF8.self)
    }
}

extension [RedactedSpan] {
    /// How many bytes of the original message the first `storedCount` stored bytes stand for (a
    /// token cut short stands for its whole secret).
    public func originalLength(ofStoredPrefix storedCount: Int) -> Int {
        var length = storedCount
        for span in self where span.offset < storedCount {
            length += span.length - (Swift.min(storedCount, span.storedRange.upperBound) - span.offset)
        }
        return length
    }

    /// The length of the original message whose stored bytes, with these spans, are `storedCount` long.
    public func originalLength(storedCount: Int) -> Int {
        reduce(storedCount) { $0 + $1.length - RedactedSpan.tokenLength }
    }

    /// Where original offset `offset` is in the stored bytes (inside a secret: at its token).
    public func storedOffset(ofOriginal offset: Int) -> Int {
        var shift = 0
        for span in self {
            let originalStart = span.offset - shift
            if offset < originalStart { break }
            if offset < originalStart + span.length { return span.offset }
            shift += RedactedSpan.tokenLength - span.length
        }
        return offset + shift
    }

    /// The stored form: `offset+length:rule` per span, comma-separated (rule names hold neither
    /// character). nil for no spans, so an unredacted message stores NULL.
    public var storedText: String? {
        isEmpty ? nil : map { "\($0.offset)+\($0.length):\($0.rule)" }.joined(separator: ",")
    }

    /// Reads `storedText`; what does not parse (written by a newer wirelog) is left out.
    public init(storedText: String?) {
        guard let storedText, !storedText.isEmpty else {
            self = []
            return
        }
        self = storedText.split(separator: ",").compactMap { item in
            guard let colon = item.firstIndex(of: ":"), let plus = item[..<colon].firstIndex(of: "+"),
                  let offset = Int(item[..<plus]), let length = Int(item[item.index(after: plus)..<colon])
            else { return nil }
            return RedactedSpan(offset: offset, length: length, rule: String(item[item.index(after: colon)...]))
        }
    }
}
