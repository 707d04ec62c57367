import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import Recording

/// TLS on a listening socket (serve, the proxy's client side): the certificate (from files, or a
/// leaf minted per SNI name by a local CA), the handshake timeout and the key log. One context per
/// certificate and chosen protocol, made on first use and kept.
public final class ServerTLS: Sendable {
    public enum Identity: Sendable {
        case files(chain: [NIOSSLCertificate], key: NIOSSLPrivateKey)
        /// Leaves for each SNI name; `defaultName` for clients that send none.
        case minted(CertificateAuthority, defaultName: String)
    }

    /// When the handshake goes on after the ClientHello.
    public enum HandshakeStart: Sendable {
        case immediately
        /// Once the connection handler sends `TLSProceed` (the proxy: after its upstream answered).
        case whenTold
    }

    public let identity: Identity
    public let handshakeTimeout: TimeAmount
    public let keyLog: KeyLog?
    public let start: HandshakeStart
    /// With minted leaves one per name (and protocol) the client picks: as bounded as the leaves.
    private let contexts = NIOLockedValueBox(LeastRecentlyUsed<ContextKey, NIOSSLContext>(capacity: CertificateAuthority.cachedNames))

    private struct ContextKey: Hashable {
        var name: String?
        var applicationProtocol: String?
    }

    public init(identity: Identity, handshakeTimeout: TimeAmount = .seconds(10), keyLog: KeyLog? = nil,
                start: HandshakeStart = .immediately) throws {
        self.identity = identity
        self.handshakeTimeout = handshakeTimeout
        self.keyLog = keyLog
        self.start = start
        // Any problem with the certificate shows now, as one line, not at the first client.
        _ = try context(serverName: nil, applicationProtocol: nil)
    }

    /// The handlers that take over once the ClientHello is known, network side first.
    func handlers(for hello: ClientHello, applicationProtocol: String?) throws -> [ChannelHandler] {
        let context = try self.context(serverName: hello.serverName, applicationProtocol: applicationProtocol)
        return [
            HelloTap(role: .server),
            NIOSSLServerHandler(context: context),
        ]
    }

    private func context(serverName: String?, applicationProtocol: String?) throws -> NIOSSLContext {
        // With files every name gets the same certificate: one context per protocol.
        let name: String? = if case .minted = identity { serverName } else { nil }
        let key = ContextKey(name: name, applicationProtocol: applicationProtocol)
        if let context = contexts.withLockedValue({ $0.value(for: key) }) { return context }
        let (chain, privateKey) = try certificate(for: name)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        configuration.applicationProtocols = applicationProtocol.map { [$0] } ?? []
        configuration.keyLogCallback = keyLog?.callback
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSetupError.rejected("this certificate and key")
        }
        contexts.withLockedValue { $0.set(context, for: key) }
        return context
    }

    /// How many contexts are kept now (at most `CertificateAuthority.cachedNames`).
    var cachedContextCount: Int { contexts.withLockedValue { $0.count } }

    private func certificate(for name: String?) throws -> ([NIOSSLCertificate], NIOSSLPrivateKey) {
        switch identity {
        case .files(let chain, let key):
            return (chain, key)
        case .minted(let authority, let defaultName):
            let leaf = try authority.leaf(for: name ?? defaultName)
            return ([leaf.certificate], leaf.privateKey)
        }
    }

    /// The handlers a new connection starts with: the acceptor (network side) and the observer.
    /// Put at the front of a connection already under way (a STARTTLS upgrade), they take over
    /// from its next read.
    public func connectionHandlers() -> [ChannelHandler] {
        [TLSAcceptor(tls: self), TLSObserver(leg: TLSLeg(), side: .client, timeout: handshakeTimeout)]
    }
}
