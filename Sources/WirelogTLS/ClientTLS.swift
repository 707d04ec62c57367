import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import Recording

/// What an originating side is told: whom to trust, which name to ask for, which certificate to
/// show. The same for the proxy's upstream, `client`, `replay` and `bench`.
public struct ClientTLSSettings: Sendable {
    public enum Trust: Sendable, Equatable {
        /// The system's roots.
        case system
        /// Only the CA certificates in this PEM file.
        case authorities(path: String)
        /// No verification at all (`--insecure`, `--upstream-insecure`).
        case none
    }

    public var trust: Trust = .system
    /// SNI and the name the certificate must carry; nil: the host connected to.
    public var serverName: String?
    /// A client certificate (PEM files) for servers that ask for one.
    public var certificatePath: String?
    public var keyPath: String?
    public var handshakeTimeout: TimeAmount = .seconds(10)
    public var keyLog: KeyLog?

    public init() {}
}

/// Makes the TLS handlers of originating connections. Files are read once, here; contexts are kept
/// per offered protocol list (building one reads the system roots: not on every connection).
public final class ClientTLS: Sendable {
    public let settings: ClientTLSSettings
    private let base: TLSConfiguration
    private let contexts = NIOLockedValueBox([[String]: NIOSSLContext]())
    private static let maxContexts = 64

    public init(_ settings: ClientTLSSettings) throws {
        self.settings = settings
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch settings.trust {
        case .system:
            break
        case .authorities(let path):
            configuration.trustRoots = .certificates(try PEMFiles.certificates(path))
        case .none:
            configuration.certificateVerification = .none
        }
        if let certificatePath = settings.certificatePath, let keyPath = settings.keyPath {
            let identity = try PEMFiles.identity(certificate: certificatePath, key: keyPath)
            configuration.certificateChain = identity.chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(identity.key)
        }
        configuration.keyLogCallback = settings.keyLog?.callback
        self.base = configuration
        _ = try context(offering: [])
    }

    /// Adds the TLS handlers for a connection to `host` to a new channel's pipeline: the hello tap,
    /// NIOSSL, and the observer that reports `TLSEvent`s. `serverName` overrides the settings'
    /// (the proxy passes the client's SNI); an IP address is never sent as SNI. The future tells
    /// how the handshake ended (failing with `TLSHandshakeError`), for callers that wait for it.
    /// At `.first` on an active connection (a STARTTLS upgrade) the handshake starts at once.
    @discardableResult
    public func addHandlers(to pipeline: ChannelPipeline.SynchronousOperations, host: String,
                            serverName: String? = nil, offering applicationProtocols: [String] = [],
                            position: ChannelPipeline.SynchronousOperations.Position = .last) throws -> EventLoopFuture<TLSLeg> {
        let name = serverName ?? settings.serverName ?? host
        let sni = IPAddressText.bytes(name) == nil ? name : nil
        let notes = VerificationNotes()
        let handler = try NIOSSLClientHandler(
            context: try context(offering: applicationProtocols), serverHostname: sni,
            verificationCallback: { notes.callback($0, $1) })
        let waiter = HandshakeWaiter(promise: pipeline.eventLoop.makePromise())
        try pipeline.addHandlers([
            HelloTap(role: .client),
            handler,
            TLSObserver(leg: TLSLeg(sni: sni), side: .server, timeout: settings.handshakeTimeout, verification: notes),
            waiter,
        ], position: position)
        return waiter.promise.futureResult
    }

    private func context(offering applicationProtocols: [String]) throws -> NIOSSLContext {
        if let context = contexts.withLockedValue({ $0[applicationProtocols] }) { return context }
        var configuration = base
        configuration.applicationProtocols = applicationProtocols
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSetupError.rejected(settings.certificatePath.map { "the client certificate \($0)" } ?? "these settings")
        }
        contexts.withLockedValue { cache in
            if cache.count >= Self.maxContexts { cache.removeAll() }
            cache[applicationProtocols] = context
        }
        return context
    }
}

/// How an originating handshake failed, for callers that wait for it.
public struct TLSHandshakeError: Error, CustomStringConvertible {
    public let leg: TLSLeg

    public var description: String { "TLS handshake failed: \(leg.failure ?? "the connection closed")" }
}

/// Completes a promise with the handshake's outcome; passes everything on.
private final class HandshakeWaiter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let promise: EventLoopPromise<TLSLeg>
    private var done = false

    init(promise: EventLoopPromise<TLSLeg>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case TLSEvent.established(let leg): complete(.success(leg))
        case TLSEvent.failed(let leg): complete(.failure(TLSHandshakeError(leg: leg)))
        default: break
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// A connection that never got as far as a handshake (refused, closed) fails it too.
    func handlerRemoved(context: ChannelHandlerContext) {
        complete(.failure(TLSHandshakeError(leg: TLSLeg())))
    }

    private func complete(_ result: Result<TLSLeg, Error>) {
        guard !done else { return }
        done = true
        promise.completeWith(result)
    }
}
