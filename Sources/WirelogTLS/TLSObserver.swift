import Crypto
import Foundation
import Metrics
import NIOCore
import NIOSSL
import NIOTLS
import Recording
import Telemetry
import X509

/// Sits right behind a `NIOSSLHandler` and turns what it does into `TLSEvent`s: the handshake's
/// facts once it completes, one plain failure (then a close) if it does not within the timeout,
/// and how the other end finished (close_notify or a bare FIN, which NIOSSL reports as an error).
final class TLSObserver: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer

    private enum State { case handshaking, established, failed }

    private var state = State.handshaking
    /// What is known before the handshake: the SNI sent or received, the client's hello.
    private var leg: TLSLeg
    private let meters: TLSMeters
    private let timeout: TimeAmount
    private let verification: VerificationNotes?
    private var timer: Scheduled<Void>?
    private var sawUncleanShutdown = false
    /// A full close passed through here: NIOSSL is sending close_notify.
    private var closing = false

    /// `side` is the leg, as `TLSDetails` names them: `client` when wirelog accepts, `server` when it connects.
    init(leg: TLSLeg, side: TLSMeters.Side, timeout: TimeAmount, verification: VerificationNotes? = nil) {
        self.leg = leg
        meters = side == .client ? TLSMeters.client : TLSMeters.server
        self.timeout = timeout
        self.verification = verification
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startTimer(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        startTimer(context: context)
        context.fireChannelActive()
    }

    private func startTimer(context: ChannelHandlerContext) {
        guard timer == nil, state == .handshaking, timeout > .zero else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) {
            let (observer, context) = loopBound.value
            observer.fail(TLSFailure.timedOut(observer.timeout), context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case TLSUserEvent.handshakeCompleted(let negotiated):
            guard state == .handshaking else { return }
            state = .established
            timer?.cancel()
            meters.completed.increment()
            let pipeline = context.pipeline.syncOperations
            let tap = try? pipeline.handler(type: HelloTap.self)
            fillIn(from: context, tap: tap, applicationProtocol: negotiated)
            // What the tap looks for comes during the handshake: from here on it would only pass bytes on.
            if let tap { pipeline.removeHandler(tap, promise: nil) }
            context.fireUserInboundEventTriggered(TLSEvent.established(leg))
        case TLSEvent.clientHello(let hello):
            leg.sni = hello.serverName
            context.fireUserInboundEventTriggered(event)
        case ChannelEvent.inputClosed where closing:
            // We sent close_notify and the peer's FIN came: no close_notify can follow, and NIOSSL
            // would wait for one until its shutdown timeout. Close the TCP connection beneath it.
            (try? context.pipeline.syncOperations.context(handlerType: NIOSSLHandler.self))?.close(promise: nil)
            context.fireUserInboundEventTriggered(event)
        case ChannelEvent.inputClosed where state == .established:
            context.fireUserInboundEventTriggered(TLSEvent.closed(sawUncleanShutdown ? .fin : .closeNotify))
            context.fireUserInboundEventTriggered(event)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        switch state {
        case .handshaking:
            fail(error, context: context)
        case .established:
            // A bare FIN is how many peers end; it is recorded, not an error of the connection.
            if let ssl = error as? NIOSSLError, case .uncleanShutdown = ssl {
                sawUncleanShutdown = true
                return
            }
            context.fireErrorCaught(error)
        case .failed:
            break
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all { closing = true }
        context.close(mode: mode, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    private func fail(_ error: Error, context: ChannelHandlerContext) {
        guard state == .handshaking else { return }
        state = .failed
        timer?.cancel()
        let tap = try? context.pipeline.syncOperations.handler(type: HelloTap.self)
        leg.failure = TLSFailure.describe(error, verification: verification?.problem, peerAlert: tap?.peerAlert)
        meters.failed[TLSFailure.category(of: error, peerAlert: tap?.peerAlert)]?.increment()
        fillIn(from: context, tap: tap, applicationProtocol: nil)
        context.fireUserInboundEventTriggered(TLSEvent.failed(leg))
        context.close(promise: nil)
    }

    /// Version, cipher suite and peer certificate, from what NIOSSL and the hello tap know.
    private func fillIn(from context: ChannelHandlerContext, tap: HelloTap?, applicationProtocol: String?) {
        leg.alpn = applicationProtocol ?? leg.alpn
        if let serverHello = tap?.serverHello {
            leg.cipherSuite = TLSNames.cipherSuite(serverHello.cipherSuite)
        }
        guard let ssl = try? context.pipeline.syncOperations.handler(type: NIOSSLHandler.self) else { return }
        leg.version = ssl.tlsVersion.map(TLSNames.version) ?? leg.version
        if let peer = ssl.peerCertificate, let der = try? peer.toDERBytes() {
            leg.peerSHA256 = SHA256.hash(data: der).map { String(format: "%02x", $0) }.joined()
            leg.peerSubject = (try? Certificate(derEncoded: der)).map { String(describing: $0.subject) }
        }
    }
}

/// What the certificate check found wrong, kept for the failure text (NIOSSL only says "failed").
final class VerificationNotes: @unchecked Sendable {
    // Written and read on the channel's event loop only.
    var problem: String?

    /// For `NIOSSLClientHandler(verificationCallback:)`: notes why a certificate failed, changes nothing.
    func callback(_ result: NIOSSLVerificationResult, _ certificate: NIOSSLCertificate) -> NIOSSLVerificationResult {
        if result == .failed, problem == nil {
            let subject = (try? certificate.toDERBytes()).flatMap { try? Certificate(derEncoded: $0) }.map { String(describing: $0.subject) } ?? "?"
            let now = time(nil)
            if certificate.notValidAfter < now {
                problem = "the certificate of \(subject) has expired"
            } else if certificate.notValidBefore > now {
                problem = "the certificate of \(subject) is not valid yet"
            } else {
                problem = "\(subject) is not signed by a trusted CA"
            }
        }
        return result
    }
}

/// Handshakes completed and failed on one side, made on first use.
struct TLSMeters: Sendable {
    enum Side: String { case client, server }

    let completed: Counter
    let failed: [String: Counter]

    private init(_ side: Side) {
        completed = WirelogMetrics.tlsHandshakes.counter(side.rawValue)
        failed = Dictionary(uniqueKeysWithValues: TLSFailure.categories.map {
            ($0, WirelogMetrics.tlsHandshakeFailures.counter(side.rawValue, $0))
        })
    }

    static let client = TLSMeters(.client)
    static let server = TLSMeters(.server)
}
