/// Which side's messages a rule reads.
public enum RedactionDirection: String, Sendable, CaseIterable {
    case client, server, both

    func includes(_ sender: Sender) -> Bool {
        switch self {
        case .both: true
        case .client: sender == .client
        case .server: sender == .server
        }
    }
}

/// One way of finding secrets in a message: a regular expression over its bytes (a capture group,
/// when present, marks the part to hide), or a preset's own matcher.
///
/// Compiled regexes are not Sendable because a program compiles itself on first use; each rule is
/// used once while it is checked (`init` matches its probes), so later matches only read it and the
/// rule can be shared by every connection's tape. A class, because the recorder walks the rules
/// for every message: copying a struct of strings, a regex and arrays cost a retain per field.
public final class RedactionRule: @unchecked Sendable {
    /// What `--secret NAME=VALUE` and `show` call it: `[A-Za-z0-9_.-]+`.
    public let name: String
    public let direction: RedactionDirection
    /// The regular expression as given, or the preset's name.
    public let source: String
    let matcher: Matcher
    /// Lower-case ASCII words of which a message must hold one (any case) before the matcher runs:
    /// a cheap test that keeps regexes off most messages. Empty: always run.
    let anyOf: [[UInt8]]

    enum Matcher {
        case regex(Regex<AnyRegexOutput>)
        /// The PostgreSQL frontend's PasswordMessage (and SASL responses): `p`, a length, the body.
        case postgresPasswordMessage
        /// A lab DATA payload: the decoded payload when the message has one; else each `DATA …`
        /// line's payload and the line after a bare `DATA` (`ByteMatchers.labDataPayloads`), and
        /// after a message ending in a bare `DATA` line, the next client line.
        case labPayload
        /// HTTP/1 credential header values (`ByteMatchers.httpCredentialValues`).
        case httpCredentialHeaders
        /// The SMTP AUTH exchange: the initial response, and every client line while the server
        /// answers 334 (a continuation).
        case smtpAuthExchange(Regex<AnyRegexOutput>)
    }

    /// A rule from a regular expression given by a person: an invalid one, one that matches the
    /// empty string or one that would hide every byte of ordinary messages is refused.
    public convenience init(name: String, pattern: String, direction: RedactionDirection = .both) throws(RedactionRuleError) {
        try Self.checkName(name)
        let regex = try Self.compile(pattern)
        self.init(name: name, direction: direction, source: pattern, matcher: .regex(regex),
                  anyOf: Self.requiredLiteral(pattern).map { [$0] } ?? [])
        if ByteText("").hasMatch(regex) {
            throw .matchesEverything(pattern: pattern, reason: "it matches the empty string")
        }
        let probes = ["x", "HELO\r\n", "200 BYE\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "\u{0}\u{7f}\u{ff}"]
        if probes.allSatisfy({ probe in
            let bytes = ByteText.latin1Bytes(probe)
            return hiddenRanges(in: bytes, state: nil).mergedRanges() == [0..<bytes.count]
        }) {
            throw .matchesEverything(pattern: pattern, reason: "it would hide every byte of every message")
        }
    }

    init(name: String, direction: RedactionDirection, source: String, matcher: Matcher, anyOf: [String]) {
        self.name = name
        self.direction = direction
        self.source = source
        self.matcher = matcher
        self.anyOf = anyOf.map { Array($0.lowercased().utf8) }
    }

    /// Plain text that every match of `pattern` starts with (at least 3 characters), found without
    /// parsing the regex: what follows leading flags such as `(?i)`, up to the first character
    /// with a meaning in regexes. None when the pattern has an alternation anywhere. Compared in
    /// any case, so it only ever lets through more messages than the regex matches.
    static func requiredLiteral(_ pattern: String) -> String? {
        guard !pattern.contains("|") else { return nil }
        var rest = Substring(pattern)
        if rest.hasPrefix("(?"), let close = rest.firstIndex(of: ")"),
           rest[rest.index(rest.startIndex, offsetBy: 2)..<close].allSatisfy(\.isLetter) {
            rest = rest[rest.index(after: close)...]
        }
        var literal = String(rest.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || " =:-_/,".contains($0)) })
        // A quantifier after the text makes its last character optional.
        if let next = rest.dropFirst(literal.count).first, "?*{".contains(next) { literal = String(literal.dropLast()) }
        return literal.count >= 3 ? literal : nil
    }

    static func compile(_ pattern: String) throws(RedactionRuleError) -> Regex<AnyRegexOutput> {
        do {
            // Per Unicode scalar: over bytes read as Latin-1 each byte is one scalar, `\r\n` two.
            let regex = try Regex(pattern).matchingSemantics(.unicodeScalar)
            _ = ByteText("warm up").hasMatch(regex)
            return regex
        } catch {
            throw .invalidRegex(pattern: pattern, reason: String(describing: error))
        }
    }

    static func checkName(_ name: String) throws(RedactionRuleError) {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == 0x5f || byte == 0x2e || byte == 0x2d
        }
        if name.isEmpty || !allowed { throw .badName(name) }
    }

    /// The byte ranges of `raw` this rule hides (possibly overlapping). `state` carries what a
    /// rule remembers between the messages of a session; nil when checking a rule alone. A
    /// protocol decoder's `fields` make the presets more precise where they tell where things are.
    func hiddenRanges(in raw: [UInt8], sender: Sender = .client, payloadRange: Range<Int>? = nil, fields: [MessageField] = [],
                      text: inout ByteText?, state: inout RedactionState) -> [Range<Int>] {
        switch matcher {
        case .regex(let regex):
            return Self.groupRanges(of: regex, in: Self.cachedText(&text, raw))
        case .labPayload:
            guard sender == .client else { return [] }
            if let payloadRange { return payloadRange.isEmpty ? [] : [payloadRange] }
            var ranges = raw.withUnsafeBufferPointer { bytes in
                Self.dataWord.containsAny(bytes) ? ByteMatchers.labDataPayloads(in: bytes) : []
            }
            if state.labPayloadFollows {
                let firstLine = 0..<Self.lineEnd(raw)
                if !firstLine.isEmpty { ranges.append(firstLine) }
            }
            state.labPayloadFollows = Self.endsWithBareData(raw)
            return ranges
        case .httpCredentialHeaders:
            // A decoded HTTP message says where its head ends: a body line that looks like a header is not one.
            let head = fields[field: "body_offset"]?.integer.map { min(raw.count, max(0, Int($0))) } ?? raw.count
            return raw.withUnsafeBufferPointer { ByteMatchers.httpCredentialValues(in: UnsafeBufferPointer(rebasing: $0[..<head])) }
        case .postgresPasswordMessage:
            guard sender == .client else { return [] }
            // A decoded turn names its messages, all typed once a password is asked for: every
            // password or SASL message in it, wherever it stands. Otherwise one at the start of a read.
            guard let messages = fields[field: "messages"]?.text else { return Self.passwordBody(in: raw, at: 0).map { [$0] } ?? [] }
            return messages.contains("Password") || messages.contains("SASL") ? Self.passwordBodies(inTurn: raw) : []
        case .smtpAuthExchange(let start):
            if sender == .server {
                // 334 asks for more of the exchange; any other reply ends it.
                state.smtpAuthInProgress = state.smtpAuthInProgress && raw.starts(with: Self.smtpContinuation)
                return []
            }
            if state.smtpAuthInProgress {
                let lineEnd = Self.lineEnd(raw)
                return lineEnd > 0 ? [0..<lineEnd] : []
            }
            // The exchange starts with AUTH: without it the regex cannot match, so no text is made.
            guard raw.withUnsafeBufferPointer({ Self.smtpAuthWord.containsAny($0) }) else { return [] }
            let ranges = Self.groupRanges(of: start, in: Self.cachedText(&text, raw))
            if Self.cachedText(&text, raw).hasMatch(start) { state.smtpAuthInProgress = true }
            return ranges
        }
    }

    /// The body of the PostgreSQL message at `offset` when it is a PasswordMessage or SASL response (`p`).
    private static func passwordBody(in raw: [UInt8], at offset: Int) -> Range<Int>? {
        guard raw.count > offset + 5, raw[offset] == UInt8(ascii: "p") else { return nil }
        let length = raw[offset + 1...offset + 4].reduce(0) { $0 << 8 | Int($1) }
        return offset + 5..<min(raw.count, offset + 1 + max(length, 4))
    }

    /// The bodies of every `p` message of a decoded client turn (type byte and length each).
    private static func passwordBodies(inTurn raw: [UInt8]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var offset = 0
        while raw.count >= offset + 5 {
            let length = raw[offset + 1...offset + 4].reduce(0) { $0 << 8 | Int($1) }
            guard length >= 4 else { break }
            if let body = passwordBody(in: raw, at: offset) { ranges.append(body) }
            offset += 1 + length
        }
        return ranges
    }

    private static let smtpContinuation = Array("334".utf8)
    private static let smtpAuthWord = KeywordScan(keywords: [Array("auth".utf8)])
    private static let dataWord = KeywordScan(keywords: [ByteMatchers.data])

    /// Where the first line's content ends (before its CR LF or LF), or the end.
    private static func lineEnd(_ raw: [UInt8]) -> Int {
        raw.firstIndex(of: UInt8(ascii: "\n")).map { $0 > 0 && raw[$0 - 1] == 0x0d ? $0 - 1 : $0 } ?? raw.count
    }

    /// Whether the last line of `raw` is a bare `DATA` (any case), whose payload is the next line.
    private static func endsWithBareData(_ raw: [UInt8]) -> Bool {
        guard raw.last == UInt8(ascii: "\n") else { return false }
        var end = raw.count - 1
        if end > 0 && raw[end - 1] == 0x0d { end -= 1 }
        while end > 0 && (raw[end - 1] == 0x20 || raw[end - 1] == 0x09) { end -= 1 }
        guard end >= 4, raw.withUnsafeBufferPointer({ ByteMatchers.hasWord(ByteMatchers.data, in: $0, at: end - 4) }) else { return false }
        return end == 4 || raw[end - 5] == UInt8(ascii: "\n")
    }

    private func hiddenRanges(in raw: [UInt8], state: RedactionState?) -> [Range<Int>] {
        var text: ByteText?
        var state = state ?? RedactionState()
        return hiddenRanges(in: raw, text: &text, state: &state)
    }

    /// The message as text, made once per message however many rules read it.
    private static func cachedText(_ cached: inout ByteText?, _ raw: [UInt8]) -> ByteText {
        if let cached { return cached }
        let made = ByteText(raw)
        cached = made
        return made
    }

    /// Each participating capture group of each match, or the whole match when the regex has no groups.
    static func groupRanges(of regex: Regex<AnyRegexOutput>, in text: ByteText) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        for match in text.string.matches(of: regex) {
            let hidden = match.output.count > 1 ? match.output.dropFirst().compactMap(\.range) : [match.range]
            for range in hidden where !range.isEmpty {
                ranges.append(text.offsets(range))
            }
        }
        return ranges
    }
}

extension [Range<Int>] {
    /// Sorted, with overlapping or touching ranges joined.
    public func mergedRanges() -> [Range<Int>] {
        var merged: [Range<Int>] = []
        for range in sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<Swift.max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }
}

/// What the rules of one session remember between its messages (kept by its `SessionTape`).
public struct RedactionState: Sendable {
    var smtpAuthInProgress = false
    var labPayloadFollows = false

    public init() {}
}

/// A message's bytes as a String of Latin-1 scalars (one per byte, whatever the byte), so that a
/// regex matched per Unicode scalar reads bytes and its match positions are byte offsets.
public struct ByteText {
    public let string: String

    public init(_ bytes: [UInt8]) {
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: bytes.lazy.map { Unicode.Scalar($0) })
        string = String(scalars)
    }

    init(_ ascii: String) {
        string = ascii
    }

    static func latin1Bytes(_ text: String) -> [UInt8] {
        text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
    }

    func hasMatch(_ regex: Regex<AnyRegexOutput>) -> Bool {
        (try? regex.firstMatch(in: string)) != nil
    }

    /// The byte offsets of a range of `string`.
    public func offsets(_ range: Range<String.Index>) -> Range<Int> {
        let scalars = string.unicodeScalars
        let lower = scalars.distance(from: scalars.startIndex, to: range.lowerBound)
        return lower..<lower + scalars.distance(from: range.lowerBound, to: range.upperBound)
    }
}

/// A rule that cannot be used, in words for the person who wrote it.
public enum RedactionRuleError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalidRegex(pattern: String, reason: String)
    case matchesEverything(pattern: String, reason: String)
    case unknownPreset(String)
    case badName(String)
    case badLine(line: Int, reason: String)

    public var description: String {
        switch self {
        case .invalidRegex(let pattern, let reason):
            "--redact \(pattern): not a valid regular expression (\(reason))"
        case .matchesEverything(let pattern, let reason):
            "--redact \(pattern): \(reason); give a pattern that finds the secret, e.g. 'AUTH (\\S+)'"
        case .unknownPreset(let name):
            "--redact-preset \(name): no such preset (there are \(RedactionPreset.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .badName(let name):
            "redaction rule name '\(name)': use letters, digits, '_', '.' and '-' only"
        case .badLine(let line, let reason):
            "line \(line): \(reason)"
        }
    }
}
