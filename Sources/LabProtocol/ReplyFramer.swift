/// Cuts a server's byte stream into whole replies: one line each, two lines for a 4xx
/// reply (status line, then `Command-description:`). A line without a status code (as
/// from a server that is not a lab server) is a one-line reply.
public struct ReplyFramer: Sendable {
    private var buffer: [UInt8] = []
    private var consumed = 0
    /// Bytes known to hold no LF (a long line still arriving): searches skip them, so a reply
    /// that comes in many pieces is scanned once, not once per piece.
    private var lineFree = 0..<0

    public init() {}

    public var bufferedByteCount: Int { buffer.count - consumed }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if consumed > 0 && consumed == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            consumed = 0
            lineFree = 0..<0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete reply, terminators included, or nil until more bytes arrive.
    public mutating func next() -> [UInt8]? {
        guard let firstEnd = lineEnd(from: consumed) else { return nil }
        var end = firstEnd
        let code = LabReply.statusCode(of: buffer[consumed..<firstEnd])
        if let code, LabReply.lineCount(statusCode: code) == 2 {
            guard let secondEnd = lineEnd(from: firstEnd) else { return nil }
            end = secondEnd
        }
        let reply = Array(buffer[consumed..<end])
        consumed = end
        if consumed > 4096 && consumed * 2 > buffer.count {
            buffer.removeFirst(consumed)
            consumed = 0
            lineFree = 0..<0
        }
        return reply
    }

    /// Whatever is buffered without a line end (a server that closed mid-reply).
    public mutating func takeRemainder() -> [UInt8] {
        defer { buffer.removeAll(); consumed = 0; lineFree = 0..<0 }
        return Array(buffer[consumed...])
    }

    /// The index just past the next LF at or after `start`.
    private mutating func lineEnd(from start: Int) -> Int? {
        let from = (lineFree.lowerBound...lineFree.upperBound).contains(start) ? lineFree.upperBound : start
        guard let end = buffer[from...].firstIndex(of: UInt8(ascii: "\n")) else {
            lineFree = min(start, from)..<buffer.count
            return nil
        }
        return end + 1
    }
}
