import Logging
import NIOCore
import Recording
import WirelogTLS

/// The upgrade's state on one proxied connection (`--starttls`).
struct StartTLSState {
    let policy: StartTLSPolicy
    private let chosenByFirstBytes: Bool
    /// The protocol's upgrade rules: named by `--decode`, or chosen from the first bytes under
    /// auto; nil when no upgrade can come (another protocol, or TLS from the first byte).
    var dialect: (any StartTLSDialect)?
    /// Whether the first bytes have been seen.
    var started = false
    /// The upstream leg switches to TLS too, once the client's ClientHello says what to ask for.
    var upstreamLegPending = false
    /// The seq of the last message before the switch, for the legs' `startTLSAfterSeq`.
    var switchedAfterSeq: Int64?

    init(_ configuration: ProxyConfiguration) {
        policy = StartTLSPolicy(canTerminate: configuration.tls != nil, upstreamTLS: configuration.upstreamTLS != nil)
        chosenByFirstBytes = configuration.decoding == .auto
        dialect = StartTLSDialects.named(configuration.decoding.rawValue)?.init(policy: policy)
    }

    /// A session's TLS facts with where the switch happened.
    func mark(_ tls: inout TLSDetails) {
        guard let switchedAfterSeq else { return }
        tls.client?.startTLSAfterSeq = switchedAfterSeq
        tls.server?.startTLSAfterSeq = switchedAfterSeq
    }

    /// Under auto, the first bytes choose the rules.
    mutating func firstBytes(_ buffer: ByteBuffer, from side: ProxySide) {
        started = true
        guard chosenByFirstBytes else { return }
        dialect = StartTLSDialects.detect(firstBytes: buffer.readableBytesView, from: side)?.init(policy: policy)
    }
}

/// The NIO side of a mid-stream upgrade: each read passes the protocol's rules before it is
/// forwarded; when they say switch, the client's TLS handlers go in front of its channel (from its
/// next read on, bytes are the handshake's), and the upstream's once the ClientHello has come, so
/// that its name and protocols are passed on as for TLS from the first byte. The client's
/// handshake completes once the upstream's has (`upstreamReady`), as there.
extension ProxyConnection {
    /// What the rules say of a read; nil when it was the start of a TLS handshake from the first
    /// byte, handed to the TLS handlers instead.
    func startTLSStep(_ buffer: ByteBuffer, from side: ProxySide) -> StartTLSStep? {
        if startTLS?.started == false {
            if side == .client, configuration.tls != nil, buffer.readableBytesView.first == Self.tlsHandshakeRecord {
                startTLS?.started = true
                startTLS?.dialect = nil
                startTLS?.upstreamLegPending = configuration.upstreamTLS != nil
                startClientTLS(replaying: buffer)
                return nil
            }
            startTLS?.firstBytes(buffer, from: side)
        }
        let step = side == .client ? startTLS?.dialect?.clientSent(buffer) : startTLS?.dialect?.upstreamSent(buffer)
        return step ?? .pass(buffer)
    }

    /// A TLS record of type handshake: what a ClientHello starts with.
    private static let tlsHandshakeRecord: UInt8 = 0x16

    /// Once a read is recorded: drops, refusals and the switch itself.
    func applyAfterRecording(_ step: StartTLSStep, from side: ProxySide) {
        if step.discarded > 0 {
            logger.warning("dropped \(step.discarded) bytes the \(side == .client ? "client" : "upstream") sent after asking for TLS and before the handshake (connection from \(clientDescription)): they must not reach the TLS session")
        }
        if let refusal = step.refusal {
            logger.warning("STARTTLS for the connection from \(clientDescription) refused: \(refusal); closing, as --upstream-tls asks for TLS upstream")
            abort(.startTLSRefused)
            return
        }
        guard let upgrade = step.upgrade, client.isOpen else { return }
        startTLS?.switchedAfterSeq = tap?.switchToTLS()
        startTLS?.upstreamLegPending = upgrade == .both
        startClientTLS(replaying: nil)
    }

    /// Puts the TLS acceptor in front of the client's channel; `buffer` (a ClientHello's start,
    /// already read) goes through it first.
    private func startClientTLS(replaying buffer: ByteBuffer?) {
        guard let serverTLS = configuration.tls, let context = client.context else { return }
        clientHandshaking = true
        let pipeline = context.pipeline.syncOperations
        do {
            try pipeline.addHandlers(serverTLS.connectionHandlers(), position: .first)
        } catch {
            errorCaught(.client, error: error)
            return
        }
        if let buffer {
            pipeline.fireChannelRead(NIOAny(buffer))
            pipeline.fireChannelReadComplete()
        }
    }

    /// The client's ClientHello has come (or the upstream connected after it): the upstream's TLS
    /// starts now, else the client's handshake goes on.
    func startUpstreamLeg() {
        guard clientHandshaking, clientHello != nil, upstream.isOpen, let context = upstream.context else { return }
        guard startTLS?.upstreamLegPending == true else {
            upstreamReady(applicationProtocol: nil)
            return
        }
        startTLS?.upstreamLegPending = false
        do {
            try UpstreamConnector.addTLS(configuration, to: context.pipeline.syncOperations, clientHello: clientHello, position: .first)
        } catch {
            logger.warning("cannot start TLS with upstream \(configuration.upstreamHost):\(configuration.upstreamPort) for client \(clientDescription): \(error)")
            abort(.upstreamTLSFailed)
        }
    }
}
