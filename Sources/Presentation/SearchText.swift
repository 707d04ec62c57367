/// Search text → bytes: UTF-8, with the escapes `Escaping.escape` prints turned back into bytes.
public enum SearchText {
    public static func bytes(_ text: String) throws(InputError) -> [UInt8] {
        let input = Array(text.utf8)
        var bytes: [UInt8] = []
        var index = 0
        while index < input.count {
            let byte = input[index]
            guard byte == UInt8(ascii: "\\") else {
                bytes.append(byte)
                index += 1
                continue
            }
            guard index + 1 < input.count else { throw invalid(text) }
            switch input[index + 1] {
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "x"):
                guard index + 3 < input.count,
                      let value = UInt8(String(decoding: input[index + 2...index + 3], as: UTF8.self), radix: 16)
                else { throw invalid(text) }
                bytes.append(value)
                index += 2
            default: throw invalid(text)
            }
            index += 2
        }
        guard !bytes.isEmpty else { throw InputError("the search text is empty: give the bytes to look for") }
        return bytes
    }

    private static func invalid(_ text: String) -> InputError {
        InputError("cannot read the search text '\(text)': after \\ use n, r, t, \\ or xNN (two hex digits)")
    }
}
