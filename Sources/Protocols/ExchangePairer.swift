import NIOCore
import Recording

/// Pairs each response with the oldest request still open (HTTP/1.1, RESP and PostgreSQL all
/// answer in order), so the response message can say which request it answers and how long the
/// exchange took: from the request's first byte to the response's last.
public struct ExchangePairer {
    private var open = CircularBuffer<(seq: Int64, startedMicros: Int64)>(initialCapacity: 16)

    public init() {}

    /// Requests waiting for their response.
    public var openCount: Int { open.count }

    public mutating func requestStarted(seq: Int64, atMicros: Int64) {
        open.append((seq, atMicros))
    }

    /// A response ended at `endMicros`: the link for it, nil when no request is open (a server
    /// that speaks unasked).
    public mutating func responseEnded(atMicros endMicros: Int64) -> ExchangeLink? {
        open.popFirst().map { ExchangeLink(requestSeq: $0.seq, durationMicros: max(0, endMicros - $0.startedMicros)) }
    }
}
