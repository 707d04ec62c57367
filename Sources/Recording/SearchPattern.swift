/// What `RecordingStore.search` looks for in a message's raw bytes: exact bytes, bytes in any
/// ASCII case, or a regular expression. Matching works on bytes, never on decoded text, so every
/// backend finds the same messages whatever the bytes are (NUL, invalid UTF-8, lone line endings).
public struct SearchPattern: @unchecked Sendable {
    // Regex is not Sendable; a pattern is only read after it is made.
    private enum Form {
        case bytes([UInt8])
        case bytesIgnoringCase([UInt8])
        case regex(Regex<AnyRegexOutput>)
    }

    private let form: Form

    /// Messages that contain `bytes`; with `ignoringCase`, ASCII letters match in either case.
    public init(bytes: [UInt8], ignoringCase: Bool = false) {
        form = ignoringCase ? .bytesIgnoringCase(bytes.map(Self.asciiLowercased)) : .bytes(bytes)
    }

    /// Messages in which the regular expression `pattern` (Swift Regex syntax) matches. It runs over
    /// bytes: `.` is one byte, `\xNN` is the byte NN, and a non-ASCII character in the pattern
    /// stands for its UTF-8 bytes in sequence; `^` and `$` match at line ends too, as in grep.
    /// Throws the syntax error for a pattern that is not one.
    public init(regex pattern: String, ignoringCase: Bool = false) throws {
        let regex = try Regex(Self.byteText(Array(pattern.utf8))).matchingSemantics(.unicodeScalar).anchorsMatchLineEndings()
        form = .regex(ignoringCase ? regex.ignoresCase() : regex)
    }

    /// The bytes to look for when a plain byte comparison in the store finds exactly these messages;
    /// nil when the store must hand the messages to `matches`.
    public var exactBytes: [UInt8]? {
        if case .bytes(let bytes) = form { return bytes }
        return nil
    }

    public func matches(_ raw: [UInt8]) -> Bool {
        switch form {
        case .bytes(let needle):
            return Self.contains(raw, needle)
        case .bytesIgnoringCase(let needle):
            return Self.contains(raw.map(Self.asciiLowercased), needle)
        case .regex(let regex):
            return Self.byteText(raw).contains(regex)
        }
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<$0 + needle.count].elementsEqual(needle) }
    }

    private static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }

    /// Each byte as the scalar of the same value (Latin-1), so a regex over scalars is a regex over bytes.
    private static func byteText(_ bytes: [UInt8]) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: bytes.map { Unicode.Scalar($0) })
        return String(scalars)
    }
}
