import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Cuts LF-terminated lines off the front of a buffer, each at most `maxLineLength` bytes of
/// content (a longer one is cut there, as an overlong piece). Remembers how far it has searched,
/// so a long line arriving a byte at a time is searched once.
struct LineCutter {
    enum Kind: Equatable {
        case terminated, overlong
    }

    let maxLineLength: Int
    private var searched = 0

    init(maxLineLength: Int) {
        precondition(maxLineLength > 0, "maxLineLength must be positive")
        self.maxLineLength = maxLineLength
    }

    /// The next whole (or overlong) line, or nil while it is unfinished.
    mutating func next(_ buffer: inout ByteBuffer) -> (line: ByteBuffer, kind: Kind)? {
        let available = buffer.readableBytes
        // A line may hold maxLineLength bytes and its LF.
        let searchEnd = min(available, maxLineLength + 1)
        if searched < searchEnd {
            let found = buffer.withUnsafeReadableBytes { bytes -> Int? in
                guard let base = bytes.baseAddress,
                      let hit = memchr(base + searched, Int32(UInt8(ascii: "\n")), searchEnd - searched) else { return nil }
                return UnsafeRawPointer(hit) - base
            }
            if let found {
                searched = 0
                return (buffer.readSlice(length: found + 1)!, .terminated)
            }
            searched = searchEnd
        }
        if available > maxLineLength {
            searched = 0
            return (buffer.readSlice(length: maxLineLength)!, .overlong)
        }
        return nil
    }

    /// Everything left, as an unterminated line (a quiet period or the end), or nil when empty.
    mutating func rest(_ buffer: inout ByteBuffer) -> ByteBuffer? {
        searched = 0
        guard buffer.readableBytes > 0 else { return nil }
        return buffer.readSlice(length: buffer.readableBytes)
    }
}
