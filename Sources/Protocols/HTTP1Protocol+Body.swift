extension HTTP1Protocol {
    /// A chunked body's data only: sizes, extensions, trailers and CRLFs dropped; stops at what
    /// does not parse. (HAR export and the mock's and replay's field comparison read bodies so.)
    public static func dechunked(_ bytes: [UInt8]) -> [UInt8] {
        var data: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard let lineEnd = bytes[index...].firstIndex(of: 0x0A) else { break }
            let sizeDigits = bytes[index..<lineEnd].prefix { $0 != 0x3B && $0 != 0x0D }.filter { $0 != 0x20 && $0 != 0x09 }
            guard let size = Int(String(decoding: sizeDigits, as: UTF8.self), radix: 16), size >= 0 else { break }
            index = lineEnd + 1
            if size == 0 { break }
            let end = min(bytes.count, index + size)
            data += bytes[index..<end]
            index = end + 2
        }
        return data
    }
}
