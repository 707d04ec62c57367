import NIOCore

/// What the proxy may do when a client asks to switch to TLS in the middle of a connection.
struct StartTLSPolicy: Sendable, Equatable {
    /// It has a certificate for the client (`--tls-cert`/`--tls-key`, `--tls-mint-ca`): it accepts
    /// the upgrade; without one it refuses it, as a server without TLS would, so the rest stays readable.
    var canTerminate: Bool
    /// `--upstream-tls`: the upstream is asked to upgrade too, and a refusal ends the session.
    /// Without it the upstream leg stays plain and is never asked.
    var upstreamTLS: Bool
}

/// What to do with one read from one side while a protocol's upgrade rules watch the connection.
struct StartTLSStep {
    /// Bytes for the partner (nil: nothing). The read itself, or less (a capability taken out).
    var forward: ByteBuffer?
    /// Bytes the proxy says to the side that sent the read, in the peer's name (`S`, `N`, `220`, `454`).
    var answer: ByteBuffer?
    /// Bytes of the read carried neither way: sent after an upgrade request before the handshake
    /// (the STARTTLS injection class), so they must not reach the TLS session.
    var discarded = 0
    var upgrade: StartTLSUpgrade?
    /// The upgrade cannot go on (the upstream refused it under `--upstream-tls`): why, in plain words.
    var refusal: String?

    static func pass(_ buffer: ByteBuffer) -> StartTLSStep { StartTLSStep(forward: buffer) }
    static let nothing = StartTLSStep()
}

/// Which legs switch to TLS once the step's bytes are out.
enum StartTLSUpgrade: Equatable {
    /// The client's leg; the upstream stays plain.
    case client
    /// Both: the upstream's handshake starts once the client's ClientHello tells which name to ask for.
    case both
}

/// One protocol's rules for switching to TLS mid-stream, as a pure state machine: fed each side's
/// reads before they are forwarded, it says what to forward, what to answer in the peer's name and
/// when to switch. Adding a protocol is one type conforming to this and a line in `StartTLSDialects`.
protocol StartTLSDialect: Sendable {
    /// The `WireProtocol` name this dialect belongs to.
    static var protocolName: String { get }
    /// Under `--decode auto`: whether a connection whose first bytes came from `side` speaks it.
    static func speaks(firstBytes: ByteBufferView, from side: ProxySide) -> Bool
    init(policy: StartTLSPolicy)
    mutating func clientSent(_ buffer: ByteBuffer) -> StartTLSStep
    mutating func upstreamSent(_ buffer: ByteBuffer) -> StartTLSStep
    /// The client's leg is TLS now: what it sends is plaintext of the new session.
    mutating func clientUpgraded()
    /// The client sends nothing more: bytes held to decide (a request cut short) go on as they are.
    mutating func clientEnded() -> ByteBuffer?
}

extension StartTLSDialect {
    mutating func clientEnded() -> ByteBuffer? { nil }
}

/// Every protocol whose upgrade the proxy knows, by `WireProtocol` name.
enum StartTLSDialects {
    static let all: [any StartTLSDialect.Type] = [
        PostgresStartTLS.self,
        SMTPStartTLS.self,
    ]

    static func named(_ name: String) -> (any StartTLSDialect.Type)? {
        all.first { $0.protocolName == name }
    }

    /// Under `--decode auto`: the dialect of a connection whose first bytes came from `side`.
    static func detect(firstBytes: ByteBufferView, from side: ProxySide) -> (any StartTLSDialect.Type)? {
        all.first { $0.speaks(firstBytes: firstBytes, from: side) }
    }
}
