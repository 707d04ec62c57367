/// `0000  48 45 4c 4f 0a                                    HELO.`
public enum HexDump {
    public static func lines(_ bytes: [UInt8], width: Int = 16) -> [String] {
        let digits = Array("0123456789abcdef")
        var lines: [String] = []
        var offset = 0
        while offset < bytes.count {
            let chunk = bytes[offset..<min(offset + width, bytes.count)]
            var hex = ""
            var text = ""
            for (index, byte) in chunk.enumerated() {
                if index > 0 { hex += index == width / 2 ? "  " : " " }
                hex.append(digits[Int(byte >> 4)])
                hex.append(digits[Int(byte & 0xF)])
                text.append((0x20...0x7E).contains(byte) ? Character(Unicode.Scalar(byte)) : ".")
            }
            let fullWidth = width * 3 - 1 + (width > 8 ? 1 : 0)
            let offsetText = String(offset, radix: 16)
            lines.append(String(repeating: "0", count: max(0, 4 - offsetText.count)) + offsetText + "  "
                         + hex + String(repeating: " ", count: max(0, fullWidth - hex.count)) + "  " + text)
            offset += width
        }
        return lines
    }
}
