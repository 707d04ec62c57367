#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits a byte stream into lines at LF, however the bytes arrive.
///
/// Pure and allocation-free on the common path: a line that lies wholly inside one
/// chunk is handed out as a view into that chunk; only a line split across chunks is
/// copied, into one reusable buffer. A line never grows past `maxLineLength` bytes of
/// content: at the limit the splitter hands out what it has as an overlong piece.
public struct LineSplitter: Sendable {
    public let maxLineLength: Int
    private var partial: [UInt8] = []

    public init(maxLineLength: Int) {
        precondition(maxLineLength > 0, "maxLineLength must be positive")
        self.maxLineLength = maxLineLength
    }

    /// Bytes of an unfinished line held back until more input, a quiet period or a close.
    public var pendingByteCount: Int { partial.count }

    /// Feeds `chunk`, calling `onPiece` for each line it completes, in order.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, _ onPiece: (LinePiece) throws -> Void) rethrows {
        var start = 0
        let count = chunk.count
        while start < count {
            // Search only as far as a line may still go, so an endless line costs O(limit).
            let room = maxLineLength + 1 - partial.count
            let searchEnd = min(count, start + room)
            var newline = -1
            if let base = chunk.baseAddress, searchEnd > start,
               let found = memchrIndex(base + start, searchEnd - start) {
                newline = start + found
            }
            if newline >= 0 {
                let end = newline + 1
                if partial.isEmpty {
                    try onPiece(LinePiece(raw: UnsafeRawBufferPointer(rebasing: chunk[start..<end]), kind: .terminated))
                } else {
                    partial.append(contentsOf: chunk[start..<end])
                    try emitPartial(kind: .terminated, onPiece)
                }
                start = end
            } else if partial.count + (searchEnd - start) > maxLineLength {
                // No LF within the limit: hand out exactly maxLineLength bytes as overlong.
                let take = maxLineLength - partial.count
                partial.append(contentsOf: chunk[start..<(start + take)])
                start += take
                try emitPartial(kind: .overlong, onPiece)
            } else {
                partial.append(contentsOf: chunk[start..<count])
                start = count
            }
        }
    }

    /// Hands out the unfinished line, if any, as unterminated (quiet period or close).
    public mutating func flush(_ onPiece: (LinePiece) throws -> Void) rethrows {
        guard !partial.isEmpty else { return }
        try emitPartial(kind: .unterminated, onPiece)
    }

    private mutating func emitPartial(kind: LinePiece.Kind, _ onPiece: (LinePiece) throws -> Void) rethrows {
        defer { partial.removeAll(keepingCapacity: partial.capacity <= 64 * 1024) }
        try partial.withUnsafeBytes { try onPiece(LinePiece(raw: $0, kind: kind)) }
    }
}

/// A line as it crossed the wire. Valid only inside the callback that receives it.
public struct LinePiece {
    public enum Kind: Sendable, Equatable {
        /// Ends with LF.
        case terminated
        /// Ended by a quiet period or a close, with no LF.
        case unterminated
        /// Reached the length limit with no LF in sight; more of the same line may follow.
        case overlong
    }

    /// Every byte, terminator included.
    public let raw: UnsafeRawBufferPointer
    public let kind: Kind

    public init(raw: UnsafeRawBufferPointer, kind: Kind) {
        self.raw = raw
        self.kind = kind
    }

    /// The line without its LF, or CRLF.
    public var content: UnsafeRawBufferPointer {
        guard kind == .terminated else { return raw }
        var end = raw.count - 1
        if end > 0 && raw[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: raw[0..<end])
    }
}

@inline(__always)
private func memchrIndex(_ base: UnsafeRawPointer, _ count: Int) -> Int? {
    guard let found = memchr(base, Int32(UInt8(ascii: "\n")), count) else { return nil }
    return UnsafeRawPointer(found) - base
}
