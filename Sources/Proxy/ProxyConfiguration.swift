import Faults
import NIOCore
import Recording
import WirelogTLS

/// Everything `wirelog proxy` can be told. Defaults are the documented ones (docs/PROXY.md).
public struct ProxyConfiguration: Sendable {
    public var listenHost = "127.0.0.1"
    public var listenPort = 7071
    /// Every accepted connection gets its own connection to this address: the proxy is never an open relay.
    public var upstreamHost: String
    public var upstreamPort: Int
    /// A protocol of `WireProtocols` by name, or `auto` (chosen per connection from the client's first bytes).
    public var decoding: Decoding = .auto
    /// Who the sessions say recorded them (`--recorder-name`).
    public var recorderName = RecorderName.hostName
    /// With `lines` and `lab` decoding, silence after a partial line that completes it.
    public var quietPeriod: TimeAmount = .milliseconds(200)
    /// Longest line kept whole with `lines` and `lab` decoding; a longer one is recorded in pieces.
    public var maxLineLength = 64 * 1024
    /// Largest decoded message held whole (an HTTP body, a RESP bulk, a PostgreSQL turn); a longer
    /// one is recorded in pieces of this size.
    public var maxMessageBytes = 1 << 20
    public var maxConnections = 4096
    public var connectTimeout: TimeAmount = .seconds(5)
    public var eventLoopThreads = System.coreCount
    /// A connection stops being read while this many of its bytes wait for a commit.
    public var maxUncommittedBytes = 4 << 20
    /// Client bytes held while the upstream connection is being made.
    public var maxEarlyBytes = 1 << 20
    /// How long a side may take to accept what is left for it once its partner has gone.
    public var drainTimeout: TimeAmount = .seconds(30)
    /// Terminate the clients' TLS (`--tls-cert`/`--tls-key` or `--tls-mint-ca`).
    public var tls: ServerTLS?
    /// Originate TLS to the upstream (`--upstream-tls`); its SNI defaults to the client's, else the upstream host.
    public var upstreamTLS: ClientTLS?
    /// `--starttls`: clients start in plaintext and may switch to TLS mid-stream (a PostgreSQL
    /// SSLRequest, SMTP's STARTTLS), which the proxy then terminates with `tls` (refuses, without
    /// it) and, with `upstreamTLS`, asks of the upstream too; clients whose first byte is TLS get
    /// it from the start as before. The upstream is connected plain, at once.
    public var startTLS = false

    /// Whether `--starttls` means anything with this decoding: auto, or a protocol whose upgrade the proxy knows.
    public static func startTLSApplies(to decoding: Decoding) -> Bool {
        decoding == .auto || StartTLSDialects.named(decoding.rawValue) != nil
    }

    /// Toxics applied to this proxy's connections, changed live (`--api`, `--fault`, `--faults`);
    /// nil: none ever, and no fault machinery in any connection.
    public var faults: FaultSet?
    /// The proxy's name in the fault API and in metrics.
    public var name = "proxy"

    public init(upstreamHost: String, upstreamPort: Int) {
        self.upstreamHost = upstreamHost
        self.upstreamPort = upstreamPort
    }
}
