/// What TLS a session used, per leg: `client` is the connection between the client and wirelog
/// (serve, or the proxy's listening side), `server` the one between wirelog and the server (the
/// proxy's upstream, a replay). A plain leg is nil.
public struct TLSDetails: Sendable, Equatable, Codable {
    public var client: TLSLeg?
    public var server: TLSLeg?

    public init(client: TLSLeg? = nil, server: TLSLeg? = nil) {
        self.client = client
        self.server = server
    }

    /// The name the session asked for: the client's SNI, else the one wirelog sent upstream.
    public var serverName: String? { client?.sni ?? server?.sni }
}

/// One TLS connection's facts, as far as its handshake got.
public struct TLSLeg: Sendable, Equatable, Codable {
    /// "TLSv1.3"
    public var version: String?
    /// IANA name, "TLS_AES_128_GCM_SHA256" (or the code point in hex when unnamed).
    public var cipherSuite: String?
    public var sni: String?
    public var alpn: String?
    /// The certificate the other end showed (a server's, or a client certificate) and its SHA-256.
    public var peerSubject: String?
    public var peerSHA256: String?
    /// Why the handshake failed: the alert, the verification error, or what came instead of TLS.
    public var failure: String?
    /// How the other end finished: `close_notify`, or `fin` (TCP closed with no close_notify).
    public var closedWith: TLSClosure?
    /// The leg switched to TLS in the middle of the connection (STARTTLS, a PostgreSQL SSLRequest)
    /// after the message with this seq; nil when it was TLS from its first byte.
    public var startTLSAfterSeq: Int64?

    public init(version: String? = nil, cipherSuite: String? = nil, sni: String? = nil, alpn: String? = nil,
                peerSubject: String? = nil, peerSHA256: String? = nil, failure: String? = nil, closedWith: TLSClosure? = nil) {
        self.version = version
        self.cipherSuite = cipherSuite
        self.sni = sni
        self.alpn = alpn
        self.peerSubject = peerSubject
        self.peerSHA256 = peerSHA256
        self.failure = failure
        self.closedWith = closedWith
    }
}

public enum TLSClosure: String, Sendable, Codable {
    case closeNotify = "close_notify"
    case fin
}
