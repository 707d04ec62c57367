import NIOCore
import Protocols

/// PostgreSQL's upgrade: the client's first message may be an SSLRequest, answered by one byte,
/// `S` (TLS follows at once) or `N` (go on in plaintext). The proxy answers `S` only when it can
/// terminate, else `N`; with `--upstream-tls` it asks the upstream first and switches both legs on
/// its `S`. A GSSENCRequest is answered `N`: the proxy cannot read GSS encryption, and libpq then
/// goes on (with TLS or plaintext) as it does against a server without GSS. Whatever else the
/// client starts with (a StartupMessage, a CancelRequest) passes through untouched.
struct PostgresStartTLS: StartTLSDialect {
    static let protocolName = PostgresProtocol.name
    private static let requestLength = 8

    private enum State {
        /// Before the client's first real message: requests are answered here; `held` is a request cut short.
        case startup(held: ByteBuffer?)
        /// The SSLRequest went upstream; its one-byte answer decides.
        case awaitingUpstream
        /// Switching: nothing more may cross in plaintext.
        case switching
        case passThrough
    }

    private let policy: StartTLSPolicy
    private var state = State.startup(held: nil)

    init(policy: StartTLSPolicy) {
        self.policy = policy
    }

    /// A PostgreSQL client speaks first, with a message whose length word starts with a zero byte.
    static func speaks(firstBytes: ByteBufferView, from side: ProxySide) -> Bool {
        side == .client && PostgresProtocol.recognise(firstBytes) != .no
    }

    mutating func clientSent(_ buffer: ByteBuffer) -> StartTLSStep {
        switch state {
        case .startup(var held):
            var bytes = buffer
            if held != nil {
                held!.writeBuffer(&bytes)
                bytes = held!
            }
            return startup(bytes)
        case .awaitingUpstream, .switching:
            return StartTLSStep(discarded: buffer.readableBytes)
        case .passThrough:
            return .pass(buffer)
        }
    }

    /// The client's bytes while no real message has come: answers each request, passes the rest.
    private mutating func startup(_ bytes: ByteBuffer) -> StartTLSStep {
        var bytes = bytes
        var answer: ByteBuffer?
        while true {
            guard bytes.readableBytes >= Self.requestLength,
                  let length = bytes.getInteger(at: bytes.readerIndex, as: UInt32.self),
                  let code = bytes.getInteger(at: bytes.readerIndex + 4, as: UInt32.self) else {
                // A request cut short waits for the rest (8 bytes at most are ever held).
                state = .startup(held: bytes.readableBytes > 0 ? bytes : nil)
                return StartTLSStep(answer: answer)
            }
            guard length == Self.requestLength, code == PostgresProtocol.sslRequestCode || code == PostgresProtocol.gssencRequestCode else {
                state = .passThrough
                return StartTLSStep(forward: bytes, answer: answer)
            }
            let request = bytes.readSlice(length: Self.requestLength)!
            if code == PostgresProtocol.gssencRequestCode || !policy.canTerminate {
                append("N", to: &answer)
                continue
            }
            // Whatever came with the SSLRequest was sent before the answer: it must not reach TLS.
            state = policy.upstreamTLS ? .awaitingUpstream : .switching
            if policy.upstreamTLS { return StartTLSStep(forward: request, answer: answer, discarded: bytes.readableBytes) }
            append("S", to: &answer)
            return StartTLSStep(answer: answer, discarded: bytes.readableBytes, upgrade: .client)
        }
    }

    private func append(_ text: String, to answer: inout ByteBuffer?) {
        if answer == nil { answer = ByteBuffer() }
        answer!.writeString(text)
    }

    mutating func upstreamSent(_ buffer: ByteBuffer) -> StartTLSStep {
        switch state {
        case .awaitingUpstream:
            var bytes = buffer
            let byte = bytes.readInteger(as: UInt8.self)
            guard byte == UInt8(ascii: "S") else {
                state = .passThrough
                let said = byte == UInt8(ascii: "N") ? "N (no TLS)" : "an error instead of S or N"
                return StartTLSStep(refusal: "the upstream answered the SSLRequest with \(said)")
            }
            state = .switching
            return StartTLSStep(forward: ByteBuffer(string: "S"), discarded: bytes.readableBytes, upgrade: .both)
        case .switching:
            return StartTLSStep(discarded: buffer.readableBytes)
        case .startup, .passThrough:
            return .pass(buffer)
        }
    }

    mutating func clientUpgraded() {
        state = .passThrough
    }

    mutating func clientEnded() -> ByteBuffer? {
        guard case .startup(let held) = state else { return nil }
        state = .passThrough
        return held
    }
}
