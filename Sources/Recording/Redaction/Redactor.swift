import Crypto
import Foundation
import Metrics
import Telemetry

/// Hides secrets in messages before they are stored: every span a rule finds is replaced by
/// `REDACTED-` and a short keyed hash of the secret (HMAC-SHA256 with the store's own random key),
/// so equal secrets get equal tokens and a token reveals nothing without the key. Each message
/// keeps the list of spans it lost (`RecordedMessage.redactions`).
public final class Redactor: Sendable {
    public let rules: [RedactionRule]
    /// The rules that read each side's messages: a rule never looks at the other side's.
    private let clientSide: Side
    private let serverSide: Side
    /// HMAC-SHA256 (RFC 2104) with the store's key taken in once: the hash states after the key's
    /// inner and outer padded blocks. A token then costs the secret's blocks and the outer hash;
    /// `HMAC.authenticationCode` would pad and hash the key again, through generic data paths.
    private let innerAfterKey: SHA256
    private let outerAfterKey: SHA256
    /// `wirelog_redactions_total` per rule name, made once: a redaction only increments.
    private let counted: [String: Counter]

    /// `key`: the store's redaction key (never shown).
    public init(rules: [RedactionRule], key: [UInt8]) {
        self.rules = rules
        clientSide = Side(rules.filter { $0.direction.includes(.client) })
        serverSide = Side(rules.filter { $0.direction.includes(.server) })
        var block = key.count > SHA256.blockByteCount ? Array(SHA256.hash(data: key)) : key
        block += repeatElement(0, count: SHA256.blockByteCount - block.count)
        var inner = SHA256()
        inner.update(data: block.map { $0 ^ 0x36 })
        innerAfterKey = inner
        var outer = SHA256()
        outer.update(data: block.map { $0 ^ 0x5c })
        outerAfterKey = outer
        counted = Dictionary(rules.map { ($0.name, WirelogMetrics.redactions.counter($0.name)) }, uniquingKeysWith: { first, _ in first })
    }

    /// The token that stands for `secret` in this store.
    public func token(for secret: some Sequence<UInt8>) -> [UInt8] {
        var token: [UInt8] = []
        appendToken(for: Array(secret)[...], to: &token)
        return token
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private func appendToken(for secret: ArraySlice<UInt8>, to stored: inout [UInt8]) {
        var inner = innerAfterKey
        secret.withUnsafeBytes { inner.update(bufferPointer: $0) }
        var outer = outerAfterKey
        inner.finalize().withUnsafeBytes { outer.update(bufferPointer: $0) }
        stored += RedactedSpan.tokenPrefix
        outer.finalize().withUnsafeBytes { mac in
            for byte in mac.prefix(RedactedSpan.hashDigits / 2) {
                stored.append(Self.hexDigits[Int(byte >> 4)])
                stored.append(Self.hexDigits[Int(byte & 0x0f)])
            }
        }
    }

    /// Replaces the secrets in `message` by their tokens, noting each span; the payload range
    /// follows the bytes it covered.
    public func redact(_ message: inout RecordedMessage, state: inout RedactionState) {
        let side = message.sender == .client ? clientSide : serverSide
        let raw = message.raw
        var found: [(range: Range<Int>, rule: String)] = []
        var text: ByteText?
        raw.withUnsafeBufferPointer { bytes in
            side.scan.withFound(in: bytes) { keywordFound in
                for (rule, keywords) in zip(side.rules, side.keywordsOfRule)
                where keywords.isEmpty || keywords.contains(where: { keywordFound[$0] }) {
                    for range in rule.hiddenRanges(in: raw, sender: message.sender, payloadRange: message.payloadRange,
                                                   fields: message.fields, text: &text, state: &state) {
                        found.append((range, rule.name))
                    }
                }
            }
        }
        // A token already (a recorded reply sent again by the mock) is no secret: it stays as it is.
        found.removeAll { RedactedSpan.isToken(raw[$0.range]) }
        guard !found.isEmpty else { return }
        found.sort { $0.range.lowerBound < $1.range.lowerBound }
        // Overlapping spans become one, named after the first rule that found it.
        var spans: [(range: Range<Int>, rule: String)] = []
        for item in found {
            if let last = spans.last, item.range.lowerBound < last.range.upperBound {
                spans[spans.count - 1].range = last.range.lowerBound..<max(last.range.upperBound, item.range.upperBound)
            } else {
                spans.append(item)
            }
        }
        let original = message.raw
        var stored: [UInt8] = []
        stored.reserveCapacity(original.count + spans.count * RedactedSpan.tokenLength)
        var redactions: [RedactedSpan] = []
        var position = 0
        for span in spans {
            stored += original[position..<span.range.lowerBound]
            redactions.append(RedactedSpan(offset: stored.count, length: span.range.count, rule: span.rule))
            counted[span.rule]?.increment()
            appendToken(for: original[span.range], to: &stored)
            position = span.range.upperBound
        }
        stored += original[position...]
        message.payloadRange = message.payloadRange.map { range in
            Self.storedIndex(range.lowerBound, spans: spans, isEnd: false)..<Self.storedIndex(range.upperBound, spans: spans, isEnd: true)
        }
        message.raw = stored
        message.redactions = redactions
        if !message.fields.isEmpty {
            let secrets = zip(spans, redactions).map { span, redaction in
                (secret: String(decoding: original[span.range], as: UTF8.self),
                 token: String(decoding: stored[redaction.storedRange], as: UTF8.self))
            }
            message.fields = Self.scrubbed(message.fields, of: secrets)
        }
    }

    /// `raw` from `sender` as the store would hold it, and its spans: what is matched against
    /// recordings and shown in logs.
    public func redacted(_ raw: [UInt8], from sender: Sender, state: inout RedactionState) -> (raw: [UInt8], redactions: [RedactedSpan]) {
        var message = RecordedMessage(seq: 0, atMicros: 0, sender: sender, raw: raw)
        redact(&message, state: &state)
        return (message.raw, message.redactions)
    }

    /// A decoder read its fields from the bytes before redaction (a RESP key, an HTTP target):
    /// what a rule hid there is hidden in them too, by the same token. A field cut short at a
    /// secret's start (a statement shown up to a limit) loses that start as well.
    static func scrubbed(_ fields: [MessageField], of secrets: [(secret: String, token: String)]) -> [MessageField] {
        fields.map { field in
            guard case .text(var text) = field.value else { return field }
            for (secret, token) in secrets where !secret.isEmpty {
                text = text.replacingOccurrences(of: secret, with: token)
                for length in stride(from: min(secret.count - 1, text.count), through: 3, by: -1)
                where text.hasSuffix(secret.prefix(length)) {
                    text.removeLast(length)
                    break
                }
            }
            return MessageField(field.name, .text(text))
        }
    }

    /// Where original offset `index` lands in the stored bytes: inside a span, at the token's start
    /// (or end, for the end of a range).
    private static func storedIndex(_ index: Int, spans: [(range: Range<Int>, rule: String)], isEnd: Bool) -> Int {
        var shift = 0
        for span in spans {
            if index <= span.range.lowerBound { break }
            if index < span.range.upperBound || (isEnd && index == span.range.upperBound) {
                return span.range.lowerBound + shift + (isEnd ? RedactedSpan.tokenLength : 0)
            }
            shift += RedactedSpan.tokenLength - span.range.count
        }
        return index + shift
    }
}

/// The rules that read one side's messages, in order, with all their keywords looked for in one
/// scan of each message. A class: picking a side for each message then costs one retain.
private final class Side: Sendable {
    let rules: [RedactionRule]
    /// For each rule, its keywords' indices in `scan.keywords`. A rule runs when one of them is
    /// found; one without keywords always runs.
    let keywordsOfRule: [[Int]]
    let scan: KeywordScan

    init(_ rules: [RedactionRule]) {
        self.rules = rules
        let scan = KeywordScan(keywords: rules.flatMap(\.anyOf))
        keywordsOfRule = rules.map { rule in rule.anyOf.map { scan.keywords.firstIndex(of: $0)! } }
        self.scan = scan
    }
}
