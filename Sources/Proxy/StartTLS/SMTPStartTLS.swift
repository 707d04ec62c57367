import NIOCore
import Protocols

/// SMTP's upgrade (RFC 3207): the server offers `STARTTLS` in its EHLO reply, the client sends
/// `STARTTLS`, the server answers `220` and TLS starts; the client then says EHLO again.
///
/// - The proxy can terminate: the client's STARTTLS is answered `220` by the proxy (the upstream
///   stays plain and never hears of it) or, with `--upstream-tls`, passed on, and both legs switch
///   on the upstream's `220` (anything else ends the session `starttls_refused`).
/// - It cannot: `STARTTLS` is taken out of EHLO replies and a client that asks anyway gets `454`,
///   as from a server without TLS, so the session stays readable.
/// - Once the client's leg is TLS and the upstream's is not, the upstream's EHLO replies lose
///   `STARTTLS` too: a server on TLS offers it no more.
///
/// Client lines are passed on whole (a line cut by a read waits for its end), so that a STARTTLS
/// line is never half forwarded; the lines of a DATA message (up to the lone `.`) are not read as
/// commands. After BDAT (binary chunks) the connection is no longer watched.
struct SMTPStartTLS: StartTLSDialect {
    static let protocolName = SMTPProtocol.name
    /// A client line longer than this is passed on unread (commands are at most 512 bytes, text lines 1000).
    private static let maxHeldLine = 4096
    /// A server reply held to be rewritten or read, at most.
    private static let maxHeldReply = 64 * 1024
    static let ready = "220 2.0.0 Ready to start TLS\r\n"
    static let notAvailable = "454 4.7.0 TLS not available\r\n"

    private enum Phase {
        case plaintext
        /// STARTTLS went upstream; its reply decides.
        case awaitingUpstream
        case switching(both: Bool)
        case upgraded(both: Bool)
        case passThrough
    }

    private let policy: StartTLSPolicy
    private var phase = Phase.plaintext
    private var clientHeld = ByteBuffer()
    private var serverHeld = ByteBuffer()
    private var inBody = false

    init(policy: StartTLSPolicy) {
        self.policy = policy
    }

    /// An SMTP server speaks first, with its `220` greeting.
    static func speaks(firstBytes: ByteBufferView, from side: ProxySide) -> Bool {
        side == .upstream && SMTPProtocol.recognise(greeting: firstBytes) != .no
    }

    mutating func clientSent(_ buffer: ByteBuffer) -> StartTLSStep {
        switch phase {
        case .passThrough: return .pass(buffer)
        case .awaitingUpstream, .switching: return StartTLSStep(discarded: buffer.readableBytes)
        case .plaintext, .upgraded: break
        }
        var input = buffer
        clientHeld.writeBuffer(&input)
        var forward = ByteBuffer()
        var answer = ByteBuffer()
        while let line = Self.nextLine(&clientHeld) {
            if inBody {
                // Compared as bytes: this runs for every line of a message's body.
                inBody = !SMTPProtocol.content(line.readableBytesView).elementsEqual(CollectionOfOne(UInt8(ascii: ".")))
                forward.writeImmutableBuffer(line)
                continue
            }
            switch Self.content(line).split(separator: " ").first.map({ $0.uppercased() }) ?? "" {
            case "STARTTLS":
                guard case .plaintext = phase, policy.canTerminate else {
                    answer.writeString(Self.notAvailable)
                    continue
                }
                // What was sent behind STARTTLS, before the handshake, must not reach the TLS session.
                let discarded = clientHeld.readableBytes
                clientHeld.clear()
                if policy.upstreamTLS {
                    forward.writeImmutableBuffer(line)
                    phase = .awaitingUpstream
                    return StartTLSStep(forward: forward, answer: Self.nonEmpty(answer), discarded: discarded)
                }
                answer.writeString(Self.ready)
                phase = .switching(both: false)
                return StartTLSStep(forward: Self.nonEmpty(forward), answer: answer, discarded: discarded, upgrade: .client)
            case "DATA":
                inBody = true
            case "BDAT":
                forward.writeImmutableBuffer(line)
                forward.writeBuffer(&clientHeld)
                phase = .passThrough
                return StartTLSStep(forward: forward, answer: Self.nonEmpty(answer))
            default:
                break
            }
            forward.writeImmutableBuffer(line)
        }
        if clientHeld.readableBytes > Self.maxHeldLine { forward.writeBuffer(&clientHeld) }
        // Only the unfinished line stays: what was read must not pile up over a long session.
        clientHeld.discardReadBytes()
        return StartTLSStep(forward: Self.nonEmpty(forward), answer: Self.nonEmpty(answer))
    }

    mutating func upstreamSent(_ buffer: ByteBuffer) -> StartTLSStep {
        let stripping: Bool
        switch phase {
        case .passThrough: return .pass(buffer)
        case .switching: return StartTLSStep(discarded: buffer.readableBytes)
        case .awaitingUpstream: return startTLSReply(buffer)
        case .plaintext: stripping = !policy.canTerminate
        case .upgraded(let both): stripping = !both
        }
        guard stripping else { return .pass(buffer) }
        var input = buffer
        serverHeld.writeBuffer(&input)
        var forward = ByteBuffer()
        while let reply = Self.nextReply(&serverHeld) {
            for line in Self.withoutStartTLS(reply) { forward.writeImmutableBuffer(line) }
        }
        if serverHeld.readableBytes > Self.maxHeldReply { forward.writeBuffer(&serverHeld) }
        serverHeld.discardReadBytes()
        return StartTLSStep(forward: Self.nonEmpty(forward))
    }

    /// The upstream's answer to the STARTTLS passed on: `220` switches both legs.
    private mutating func startTLSReply(_ buffer: ByteBuffer) -> StartTLSStep {
        var input = buffer
        serverHeld.writeBuffer(&input)
        guard let reply = Self.nextReply(&serverHeld) else {
            guard serverHeld.readableBytes > Self.maxHeldReply else { return .nothing }
            phase = .passThrough
            return StartTLSStep(refusal: "the upstream's answer to STARTTLS is longer than \(Self.maxHeldReply) bytes")
        }
        let first = Self.content(reply[0])
        guard first.hasPrefix("220") else {
            phase = .passThrough
            return StartTLSStep(refusal: "the upstream answered STARTTLS with \"\(first.prefix(80))\"")
        }
        var forward = ByteBuffer()
        for line in reply { forward.writeImmutableBuffer(line) }
        let discarded = serverHeld.readableBytes
        serverHeld.clear()
        phase = .switching(both: true)
        return StartTLSStep(forward: forward, discarded: discarded, upgrade: .both)
    }

    mutating func clientUpgraded() {
        if case .switching(let both) = phase { phase = .upgraded(both: both) }
    }

    mutating func clientEnded() -> ByteBuffer? {
        guard clientHeld.readableBytes > 0 else { return nil }
        defer { clientHeld.clear() }
        return clientHeld
    }

    // MARK: Lines and replies

    private static func nextLine(_ buffer: inout ByteBuffer) -> ByteBuffer? {
        guard let lineFeed = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        return buffer.readSlice(length: lineFeed - buffer.readerIndex + 1)
    }

    /// A line's text without CRLF.
    private static func content(_ line: ByteBuffer) -> String {
        String(decoding: SMTPProtocol.content(line.readableBytesView), as: UTF8.self)
    }

    /// The lines of the next whole reply (`250-…` lines up to the `250 …` one); a line that is no
    /// reply line is a reply of its own.
    private static func nextReply(_ buffer: inout ByteBuffer) -> [ByteBuffer]? {
        var scan = buffer
        var lines: [ByteBuffer] = []
        while let line = nextLine(&scan) {
            lines.append(line)
            let text = line.readableBytesView
            if text.count < 4 || text[text.startIndex + 3] != UInt8(ascii: "-") {
                buffer = scan
                return lines
            }
        }
        return nil
    }

    /// An EHLO reply (several `250` lines) without its STARTTLS line; the line before a removed
    /// last line becomes the last.
    private static func withoutStartTLS(_ reply: [ByteBuffer]) -> [ByteBuffer] {
        guard reply.count > 1, content(reply[0]).hasPrefix("250") else { return reply }
        var kept = reply.enumerated().filter { index, line in
            index == 0 || content(line).dropFirst(4).split(separator: " ").first?.uppercased() != "STARTTLS"
        }.map(\.element)
        if kept.count < reply.count, content(reply[reply.count - 1]).dropFirst(4).uppercased().hasPrefix("STARTTLS") {
            kept[kept.count - 1].setInteger(UInt8(ascii: " "), at: kept[kept.count - 1].readerIndex + 3)
        }
        return kept
    }

    private static func nonEmpty(_ buffer: ByteBuffer) -> ByteBuffer? {
        buffer.readableBytes > 0 ? buffer : nil
    }
}
