import NIOCore
import NIOPosix
import Recording
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a proxied session ends, as a value: why (an abort, such as a reset, an error or a shutdown,
/// wins over the first half-close, which wins over the first side to close) and what the side
/// still open gets when its partner goes away. Pure: the connection carries out what it returns.
struct ProxyEnding: Equatable {
    /// What the side still open gets once its partner has gone.
    enum PartnerClose: Equatable {
        /// Closed at once: nothing it could still be sent matters (a shutdown, a failed recording
        /// or handshake).
        case now
        /// Reset too (SO_LINGER 0, then close), as it would have been without the proxy.
        case reset
        /// Everything already read from the side that went is written, then it is closed.
        case drain
    }

    private(set) var abortReason: EndReason?
    private var halfCloseReason: EndReason?
    private var closedReason: EndReason?

    var isAborted: Bool { abortReason != nil }

    /// The session's end reason, as far as it is known.
    var reason: EndReason { abortReason ?? halfCloseReason ?? closedReason ?? .error }

    /// The first abort is the one recorded.
    mutating func abort(_ reason: EndReason) {
        abortReason = abortReason ?? reason
    }

    mutating func inputClosed(_ side: ProxySide) {
        halfCloseReason = halfCloseReason ?? Self.closedReason(side)
    }

    /// `side`'s channel has closed: what its partner, if still open, gets.
    mutating func closed(_ side: ProxySide) -> PartnerClose {
        closedReason = closedReason ?? Self.closedReason(side)
        switch abortReason {
        case .shutdown, .storageError, .tlsHandshakeFailed, .upstreamTLSFailed, .startTLSRefused: return .now
        case .reset: return .reset
        default: return .drain
        }
    }

    private static func closedReason(_ side: ProxySide) -> EndReason {
        side == .client ? .clientClosed : .serverClosed
    }

    /// What an error on an open side means: a reset by the peer, or something else.
    static func reason(for error: Error) -> EndReason {
        if let error = error as? IOError, error.errnoCode == ECONNRESET || error.errnoCode == EPIPE { return .reset }
        return .error
    }

    /// What a failed connection to the upstream means.
    static func reason(forConnectFailure error: Error) -> EndReason {
        isTimeout(error) ? .upstreamTimeout : .upstreamRefused
    }

    private static func isTimeout(_ error: Error) -> Bool {
        if case ChannelError.connectTimeout = error { return true }
        if let error = error as? NIOConnectionError {
            return error.connectionErrors.contains { isTimeout($0.error) }
        }
        if let error = error as? IOError { return error.errnoCode == ETIMEDOUT }
        return false
    }
}

/// Client bytes (and a half-close) that arrive while the upstream connection is being made,
/// handed over once it is up. Bounded by the connection, which stops reading the client at
/// `maxEarlyBytes`.
struct EarlyBytes {
    private var buffers = CircularBuffer<ByteBuffer>()
    private(set) var byteCount = 0
    /// The client closed its output before the upstream was up.
    var endOfInput = false

    mutating func append(_ buffer: ByteBuffer) {
        buffers.append(buffer)
        byteCount += buffer.readableBytes
    }

    /// Everything held, oldest first; nothing is held afterwards.
    mutating func takeAll() -> CircularBuffer<ByteBuffer> {
        defer {
            buffers.removeAll()
            byteCount = 0
        }
        return buffers
    }
}
