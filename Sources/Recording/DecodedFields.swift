import Foundation

/// A field a protocol decoder read out of a message: `method`, `status`, `command`, `sqlstate`…
/// Stored beside the message's exact bytes as one JSON object (`messages.fields`), in the
/// decoder's order; docs/PROTOCOLS.md lists each protocol's names.
public struct MessageField: Sendable, Equatable {
    public var name: String
    public var value: FieldValue

    public init(_ name: String, _ value: FieldValue) {
        self.name = name
        self.value = value
    }
}

public enum FieldValue: Sendable, Equatable {
    case text(String)
    case integer(Int64)
    case bool(Bool)

    public var text: String? {
        if case .text(let text) = self { return text }
        return nil
    }

    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }
}

extension Array where Element == MessageField {
    /// The value of the first field called `name`.
    public subscript(field name: String) -> FieldValue? {
        first { $0.name == name }?.value
    }
}

/// A request paired with the response that completed it, noted on that response message
/// (`messages.exchange_seq`, `messages.duration_us`): `show`, `stats` and HAR read exchanges from it.
public struct ExchangeLink: Sendable, Equatable {
    /// The seq of the request message (its first piece when it came in several).
    public var requestSeq: Int64
    /// First request byte to last response byte.
    public var durationMicros: Int64

    public init(requestSeq: Int64, durationMicros: Int64) {
        self.requestSeq = requestSeq
        self.durationMicros = durationMicros
    }
}

extension Array where Element == MessageField {
    /// The stored form, `messages.fields`: one flat JSON object in field order (a name given twice
    /// keeps its first value), nil when there are no fields. Built as bytes: this runs for every
    /// decoded message on the recorder's path.
    public var jsonText: String? {
        guard !isEmpty else { return nil }
        var json: [UInt8] = [UInt8(ascii: "{")]
        json.reserveCapacity(64 * count)
        for (index, field) in enumerated() {
            if index > 0 { json.append(UInt8(ascii: ",")) }
            JSONText.appendString(field.name, to: &json)
            json.append(UInt8(ascii: ":"))
            switch field.value {
            case .text(let text): JSONText.appendString(text, to: &json, replacingNUL: true)
            case .integer(let value): json += String(value).utf8
            case .bool(let value): json += (value ? "true" : "false").utf8
            }
        }
        json.append(UInt8(ascii: "}"))
        return String(decoding: json, as: UTF8.self)
    }

    /// Reads the stored form back; anything that is not such an object reads as no fields.
    public init(jsonText: String?) {
        guard let jsonText else {
            self = []
            return
        }
        var parser = JSONText.FlatObjectParser(jsonText)
        self = parser.parse() ?? []
    }
}

/// JSON text written by hand where JSONSerialization would cost more than the work around it
/// (the recorder's path, replay's report lines); and read back, for the stored fields' own form.
public enum JSONText {
    /// `value` as a JSON string, quotes included.
    public static func quoted(_ value: String) -> String {
        var json: [UInt8] = []
        appendString(value, to: &json)
        return String(decoding: json, as: UTF8.self)
    }

    /// Appends `text` as a JSON string. With `replacingNUL`, NUL becomes U+FFFD: PostgreSQL's jsonb
    /// refuses \u0000, and a field is a description (the message's bytes are the record).
    static func appendString(_ text: String, to json: inout [UInt8], replacingNUL: Bool = false) {
        json.append(UInt8(ascii: "\""))
        // Most fields (methods, paths, commands, tags) need no escape: one copy, no byte loop.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            json += text.utf8
            json.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): json += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): json += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\n"): json += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): json += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): json += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0 where replacingNUL: json += [0xEF, 0xBF, 0xBD]
            case ..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                json += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: json.append(byte)
            }
        }
        json.append(UInt8(ascii: "\""))
    }

    struct FlatObjectParser {
        private let scalars: [Unicode.Scalar]
        private var index = 0

        init(_ text: String) { scalars = Array(text.unicodeScalars) }

        mutating func parse() -> [MessageField]? {
            guard take("{") else { return nil }
            var fields: [MessageField] = []
            if take("}") { return fields }
            repeat {
                guard let name = string(), take(":"), let value = value() else { return nil }
                fields.append(MessageField(name, value))
            } while take(",")
            return take("}") ? fields : nil
        }

        private mutating func take(_ scalar: Unicode.Scalar) -> Bool {
            while index < scalars.count, scalars[index] == " " { index += 1 }
            guard index < scalars.count, scalars[index] == scalar else { return false }
            index += 1
            return true
        }

        private mutating func value() -> FieldValue? {
            while index < scalars.count, scalars[index] == " " { index += 1 }
            guard index < scalars.count else { return nil }
            switch scalars[index] {
            case "\"": return string().map(FieldValue.text)
            case "t": return word("true") ? .bool(true) : nil
            case "f": return word("false") ? .bool(false) : nil
            default:
                var digits = ""
                while index < scalars.count, scalars[index] == "-" || ("0"..."9").contains(scalars[index]) {
                    digits.unicodeScalars.append(scalars[index])
                    index += 1
                }
                return Int64(digits).map(FieldValue.integer)
            }
        }

        private mutating func word(_ word: String) -> Bool {
            let expected = Array(word.unicodeScalars)
            guard index + expected.count <= scalars.count, Array(scalars[index..<index + expected.count]) == expected else { return false }
            index += expected.count
            return true
        }

        private mutating func string() -> String? {
            guard take("\"") else { return nil }
            var text = ""
            while index < scalars.count {
                let scalar = scalars[index]
                index += 1
                switch scalar {
                case "\"": return text
                case "\\":
                    guard index < scalars.count else { return nil }
                    let escaped = scalars[index]
                    index += 1
                    switch escaped {
                    case "n": text += "\n"
                    case "r": text += "\r"
                    case "t": text += "\t"
                    case "u":
                        guard index + 4 <= scalars.count,
                              let code = UInt32(String(String.UnicodeScalarView(scalars[index..<index + 4])), radix: 16),
                              let decoded = Unicode.Scalar(code) else { return nil }
                        index += 4
                        text.unicodeScalars.append(decoded)
                    default: text.unicodeScalars.append(escaped)
                    }
                default: text.unicodeScalars.append(scalar)
                }
            }
            return nil
        }
    }
}
