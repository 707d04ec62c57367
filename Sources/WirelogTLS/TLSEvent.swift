import Recording

/// What the TLS handlers tell the connection handlers behind them, as inbound user events.
public enum TLSEvent: Sendable {
    /// Server side: the client's hello, before the handshake goes on. With
    /// `HandshakeStart.whenTold` nothing more happens until `TLSProceed` comes back.
    case clientHello(ClientHello)
    case established(TLSLeg)
    /// The handshake failed (`TLSLeg.failure` says why); the channel is being closed.
    case failed(TLSLeg)
    /// The other end finished: with close_notify or a bare FIN. `ChannelEvent.inputClosed` follows.
    case closed(TLSClosure)
}

/// Sent outbound (`triggerUserOutboundEvent`) by a server-side connection handler that holds the
/// handshake after the ClientHello: go on, choosing `applicationProtocol` when the client offered it.
public struct TLSProceed: Sendable {
    public var applicationProtocol: String?

    public init(applicationProtocol: String?) {
        self.applicationProtocol = applicationProtocol
    }
}
