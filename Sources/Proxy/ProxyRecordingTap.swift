import NIOCore
import NIORecording
import Protocols
import Recording

/// The recording half of a proxied connection: cuts each direction into messages with the
/// session's protocol (`Protocols`; with `--decode auto` chosen from the client's first bytes),
/// pairs requests with responses, hands both to the session's tape with the time their first byte
/// arrived, completes a line protocol's unterminated line after a quiet period, and ends the
/// session. Forwarding never waits for it; the connection asks `uncommittedBytes` whether to pause
/// reading. Used on the connection's event loop only, and only while recording.
///
/// In `raw` decoding a message is what one direction delivered in one read burst (every read
/// until the socket had nothing more, at most `maxBurstBytes`), stamped with the time of its
/// first read: a bulk stream costs a row per burst rather than per read, and an interactive
/// exchange, one read per turn, keeps one message per turn.
final class ProxyRecordingTap {
    /// What the tap keeps for one direction.
    private final class Direction {
        let side: ProxySide
        /// Set when the protocol completes a message on silence (a line protocol's unterminated line).
        var quietTimer: QuietTimer?
        /// `raw` decoding: the reads of the burst so far (copied once, into the message, at its
        /// end), their size, and when the first came.
        var burst: [ByteBuffer] = []
        var burstBytes = 0
        var burstStartedAt: Int64 = 0

        init(side: ProxySide) { self.side = side }
    }

    /// The session is recorded from its protocol's choice on: under `--decode auto`, reads wait
    /// here (a few bytes, bounded by `maxDetectionBytes`) until the client's first bytes tell.
    private enum ProtocolChoice {
        case detecting(held: [(ProxySide, ByteBuffer, Int64)], heldBytes: Int)
        case chosen(any WireProtocol.Type)
    }

    static let maxBurstBytes = 1 << 20
    /// Client bytes after which auto-detection decides with what it has.
    static let maxDetectionBytes = 64

    private let sink: any RecordingSink
    private var info: SessionInfo
    private let onCommit: @Sendable (CommitOutcome) -> Void
    private let eventLoop: EventLoop
    private let quietPeriod: TimeAmount
    private let limits: DecoderLimits
    /// The session's tape, from the moment its protocol is known.
    private(set) var tape: SessionTape?
    private var faults: [FaultRecord] = []
    private var protocolState: ProtocolChoice
    /// Both directions' decoders and the exchange pairing, once a protocol other than raw is chosen.
    private var decoder: ConversationDecoder?
    private let client = Direction(side: .client)
    private let upstream = Direction(side: .upstream)
    /// Counted before the tape exists (while detecting).
    private var wireBytes: (client: Int, server: Int) = (0, 0)
    private var detectionTimer: Scheduled<Void>?
    private var ended = false

    init(sink: any RecordingSink, info: SessionInfo, configuration: ProxyConfiguration, eventLoop: EventLoop,
         onCommit: @escaping @Sendable (CommitOutcome) -> Void) {
        self.sink = sink
        self.info = info
        self.onCommit = onCommit
        self.eventLoop = eventLoop
        quietPeriod = configuration.quietPeriod
        limits = DecoderLimits(maxLineLength: configuration.maxLineLength, maxMessageBytes: configuration.maxMessageBytes)
        let chosen = WireProtocols.named(configuration.decoding.rawValue)
        protocolState = chosen.map(ProtocolChoice.chosen) ?? .detecting(held: [], heldBytes: 0)
        if let chosen { start(chosen) }
    }

    /// Recorded bytes waiting for a commit: what a connection must bound.
    var uncommittedBytes: Int { tape?.uncommittedBytes ?? 0 }

    func countWireBytes(_ count: Int, from side: ProxySide) {
        if let tape {
            tape.countWireBytes(count, from: side.sender)
        } else if side == .client {
            wireBytes.client += count
        } else {
            wireBytes.server += count
        }
    }

    func noteTLS(_ tls: TLSDetails) {
        info.tls = tls
        tape?.noteTLS(tls)
    }

    /// What a toxic did: the session keeps every one, in order (held until the tape exists).
    func noteFault(_ fault: FaultRecord) {
        faults.append(fault)
        tape?.noteFaults(faults)
    }

    func apply(_ outcome: CommitOutcome) { tape?.apply(outcome) }

    /// Records what `side` sent, now.
    func record(_ buffer: ByteBuffer, from side: ProxySide) {
        guard !ended else { return }
        let now = WallClock.nowMicros()
        switch protocolState {
        case .detecting(var held, var heldBytes):
            held.append((side, buffer, now))
            heldBytes += buffer.readableBytes
            protocolState = .detecting(held: held, heldBytes: heldBytes)
            decideProtocol(final: side == .upstream || heldBytes >= Self.maxDetectionBytes)
        case .chosen(let chosen) where chosen == RawProtocol.self:
            endBurst(side.partner)  // its bytes came first
            let direction = self[side]
            if direction.burst.isEmpty { direction.burstStartedAt = now }
            direction.burst.append(buffer)
            direction.burstBytes += buffer.readableBytes
            if direction.burstBytes >= Self.maxBurstBytes { endBurst(side) }
        case .chosen:
            decode(buffer, from: side, at: now)
        }
    }

    /// `side`'s read burst is over (the connection's `channelReadComplete`).
    func endBurst(_ side: ProxySide) {
        let direction = self[side]
        guard !direction.burst.isEmpty, let tape else { return }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(direction.burstBytes)
        for read in direction.burst { bytes.append(contentsOf: read.readableBytesView) }
        direction.burst.removeAll(keepingCapacity: true)
        direction.burstBytes = 0
        tape.record(side.sender, bytes, at: direction.burstStartedAt)
    }

    /// `side` sends nothing more: whatever its decoder holds is a message now.
    func finishDecoding(_ side: ProxySide) {
        if case .detecting = protocolState { decideProtocol(final: true) }
        endBurst(side)
        let direction = self[side]
        direction.quietTimer?.cancel()
        decoder?.finish(side.sender, at: WallClock.nowMicros(), record)
    }

    /// The connection switches to TLS mid-stream: what each side sent so far is recorded, and
    /// decoding starts afresh on the new session's plaintext (a decoder that saw PostgreSQL's `S`
    /// would take what follows for ciphertext). Returns the seq of the last message before the switch.
    func switchToTLS() -> Int64? {
        if case .detecting = protocolState { decideProtocol(final: true) }
        let now = WallClock.nowMicros()
        for side in [ProxySide.client, .upstream] {
            endBurst(side)
            decoder?.finish(side.sender, at: now, record)
        }
        if decoder != nil, case .chosen(let chosen) = protocolState { decoder = ConversationDecoder(chosen, limits: limits) }
        return tape?.messageCount
    }

    func end(_ reason: EndReason) {
        guard !ended else { return }
        finishDecoding(.client)
        finishDecoding(.upstream)
        ended = true
        tape?.end(reason)
    }

    private subscript(side: ProxySide) -> Direction { side == .client ? client : upstream }

    // MARK: Choosing the protocol

    /// Under `--decode auto`: picks the protocol once the client's first bytes tell (or, with
    /// `final`, with whatever came), starts the session and records what was held.
    private func decideProtocol(final: Bool) {
        guard case .detecting(let held, _) = protocolState else { return }
        var clientBytes = ByteBuffer()
        for (side, buffer, _) in held where side == .client {
            var buffer = buffer
            clientBytes.writeBuffer(&buffer)
        }
        // A server that speaks first is known by its greeting (SMTP's 220), if at all.
        let found: (any WireProtocol.Type)?
        if let first = held.first, first.0 == .upstream {
            found = WireProtocols.detect(greeting: first.1.readableBytesView)
        } else {
            found = WireProtocols.detect(clientBytes.readableBytesView, final: final)
        }
        guard let found else {
            scheduleDetectionTimer()
            return
        }
        detectionTimer?.cancel()
        detectionTimer = nil
        protocolState = .chosen(found)
        start(found)
        for (side, buffer, at) in held {
            if found == RawProtocol.self {
                // Each held read is its own burst: they came at different times.
                tape?.record(side.sender, Array(buffer.readableBytesView), at: at)
            } else {
                decode(buffer, from: side, at: at)
            }
        }
    }

    private func start(_ chosen: any WireProtocol.Type) {
        info.decoding = Decoding(chosen.name)
        let tape = SessionTape(sink: sink, info: info, delivery: .eventLoop(eventLoop), awaitsCommits: false, onCommit: onCommit)
        tape.countWireBytes(wireBytes.client, from: .client)
        tape.countWireBytes(wireBytes.server, from: .server)
        self.tape = tape
        if !faults.isEmpty { tape.noteFaults(faults) }
        guard chosen != RawProtocol.self else { return }
        decoder = ConversationDecoder(chosen, limits: limits)
        guard chosen.completesOnQuiet else { return }
        for direction in [client, upstream] {
            direction.quietTimer = QuietTimer(period: quietPeriod, eventLoop: eventLoop) { [weak self, side = direction.side] in
                self?.quietPeriodPassed(side)
            }
        }
    }

    private func scheduleDetectionTimer() {
        guard detectionTimer == nil else { return }
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        detectionTimer = eventLoop.scheduleTask(in: quietPeriod) {
            let tap = loopBound.value
            tap.detectionTimer = nil
            if !tap.ended { tap.decideProtocol(final: true) }
        }
    }

    // MARK: Decoding

    private func decode(_ buffer: ByteBuffer, from side: ProxySide, at now: Int64) {
        decoder?.feed(buffer, from: side.sender, at: now, record)
        if let quietTimer = self[side].quietTimer {
            quietTimer.inputArrived()
            if decoder?.hasPending(side.sender) == true { quietTimer.arm() }
        }
    }

    private func record(_ sender: Sender, _ message: DecodedMessage, startedAt: Int64, exchange: ExchangeLink?) -> Int64 {
        tape?.record(sender, message, startedAt: startedAt, exchange: exchange) ?? 0
    }

    private func quietPeriodPassed(_ side: ProxySide) {
        guard !ended, decoder?.hasPending(side.sender) == true else { return }
        decoder?.flush(side.sender, at: WallClock.nowMicros(), record)
    }
}
