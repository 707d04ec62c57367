/// Renders bytes from the network as text that cannot drive a terminal or pass for other bytes:
/// printable ASCII and valid UTF-8 stay as they are, `\` becomes `\\`, CR, LF and tab become
/// `\r`, `\n`, `\t`, and every other control byte (ESC, NUL, DEL, C1), every invalid byte and
/// every byte of a character that is invisible or reorders text (see `isHidden`) becomes `\xNN`.
public enum Escaping {
    public static func escape(_ bytes: some Collection<UInt8>) -> String {
        var output = ""
        output.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\\"): output += "\\\\"
            case UInt8(ascii: "\n"): output += "\\n"
            case UInt8(ascii: "\r"): output += "\\r"
            case UInt8(ascii: "\t"): output += "\\t"
            case 0x20...0x7E: output.unicodeScalars.append(Unicode.Scalar(byte))
            case 0x80...:
                if let (scalar, length) = decodeUTF8(bytes, at: index), !isHidden(scalar) {
                    output.unicodeScalars.append(scalar)
                    index = bytes.index(index, offsetBy: length)
                    continue
                }
                output += hex(byte)
            default: output += hex(byte)
            }
            index = bytes.index(after: index)
        }
        return output
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
    }

    /// Characters that would make two different byte strings look alike or reorder what a
    /// terminal shows: controls (C1), format characters (Cf: bidi marks, overrides and isolates,
    /// zero-width space and joiners, the BOM, tag characters), line and paragraph separators,
    /// spaces other than ASCII space, and the default-ignorable ones that draw nothing (Hangul
    /// fillers such as U+3164, variation selectors, the rest of the tag block U+E0000–U+E007F).
    private static func isHidden(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        switch properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .spaceSeparator: return true
        default: return properties.isDefaultIgnorableCodePoint || (0xE0000...0xE007F).contains(scalar.value)
        }
    }

    /// One strictly valid UTF-8 sequence at `index`: the scalar and its length in bytes.
    private static func decodeUTF8<C: Collection<UInt8>>(_ bytes: C, at index: C.Index) -> (Unicode.Scalar, Int)? {
        let lead = bytes[index]
        let length: Int
        let minimum: UInt32
        var value: UInt32
        switch lead {
        case 0xC2...0xDF: length = 2; minimum = 0x80; value = UInt32(lead & 0x1F)
        case 0xE0...0xEF: length = 3; minimum = 0x800; value = UInt32(lead & 0x0F)
        case 0xF0...0xF4: length = 4; minimum = 0x10000; value = UInt32(lead & 0x07)
        default: return nil
        }
        var position = bytes.index(after: index)
        for _ in 1..<length {
            guard position != bytes.endIndex else { return nil }
            let continuation = bytes[position]
            guard continuation & 0xC0 == 0x80 else { return nil }
            value = (value << 6) | UInt32(continuation & 0x3F)
            position = bytes.index(after: position)
        }
        guard value >= minimum, value <= 0x10FFFF, !(0xD800...0xDFFF).contains(value),
              let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }
}
