/// Renders bytes from the network as text that cannot drive a terminal: printable ASCII
/// and valid UTF-8 stay as they are, `\` becomes `\\`, CR, LF and tab become `\r`, `\n`,
/// `\t`, and every other control byte (ESC, NUL, DEL, C1) or invalid byte becomes `\xNN`.
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
                if let (scalar, length) = decodeUTF8(bytes, at: index), !isControl(scalar) {
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

    /// C1 controls, and the bidi overrides and isolates that reorder what a terminal shows.
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return (0x80...0x9F).contains(value) || (0x202A...0x202E).contains(value)
            || (0x2066...0x2069).contains(value)
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
