import NIOCore
import Recording

/// The recording half of a proxied connection: cuts each direction into messages
/// (`StreamDecoder`), hands them to the session's tape with the time they arrived, completes an
/// unterminated line after a quiet period, and ends the session. Forwarding never waits for it;
/// the connection asks `uncommittedBytes` whether to pause reading. Used on the connection's
/// event loop only, and only while recording (the tape has a sink).
///
/// In `raw` decoding a message is what one direction delivered in one read burst (every read
/// until the socket had nothing more, at most `maxBurstBytes`), stamped with the time of its
/// first read: a bulk stream costs a row per burst rather than per read, and an interactive
/// exchange, one read per turn, keeps one message per turn.
final class ProxyRecordingTap {
    /// What the tap keeps for one direction (a class: the decoder is changed in place).
    private final class Direction {
        var decoder: StreamDecoder
        var lastReadAt = NIODeadline.uptimeNanoseconds(0)
        var quietTimer: Scheduled<Void>?
        /// `raw` decoding: the reads of the burst so far (copied once, into the message, at its
        /// end), their size, and when the first came.
        var burst: [ByteBuffer] = []
        var burstBytes = 0
        var burstStartedAt: Int64 = 0

        init(decoder: StreamDecoder) { self.decoder = decoder }
    }

    private let tape: SessionTape
    private let eventLoop: EventLoop
    private let quietPeriod: TimeAmount
    private let decodesLines: Bool
    static let maxBurstBytes = 1 << 20
    private let client: Direction
    private let upstream: Direction
    private var ended = false

    init(tape: SessionTape, configuration: ProxyConfiguration, eventLoop: EventLoop) {
        self.tape = tape
        self.eventLoop = eventLoop
        quietPeriod = configuration.quietPeriod
        decodesLines = configuration.decoding != .raw
        client = Direction(decoder: StreamDecoder(
            decoding: configuration.decoding, sender: .client, maxLineLength: configuration.maxLineLength))
        upstream = Direction(decoder: StreamDecoder(
            decoding: configuration.decoding, sender: .server, maxLineLength: configuration.maxLineLength))
    }

    /// Recorded bytes waiting for a commit: what a connection must bound.
    var uncommittedBytes: Int { tape.uncommittedBytes }

    func countWireBytes(_ count: Int, from side: ProxySide) {
        tape.countWireBytes(count, from: side.sender)
    }

    func noteTLS(_ tls: TLSDetails) { tape.noteTLS(tls) }

    func apply(_ outcome: CommitOutcome) { tape.apply(outcome) }

    /// Records what `side` sent, now.
    func record(_ buffer: ByteBuffer, from side: ProxySide) {
        guard !ended else { return }
        let now = WallClock.nowMicros()
        guard decodesLines else {
            endBurst(side.partner)  // its bytes came first
            if self[side].burst.isEmpty { self[side].burstStartedAt = now }
            self[side].burst.append(buffer)
            self[side].burstBytes += buffer.readableBytes
            if self[side].burstBytes >= Self.maxBurstBytes { endBurst(side) }
            return
        }
        // The other side's unfinished line is complete now that this side speaks (a bare DATA
        // still waits for its payload line: a lab server answers earlier commands meanwhile).
        if self[side.partner].decoder.hasUnterminatedLine {
            self[side.partner].decoder.flush { append($0, from: side.partner, at: now) }
        }
        buffer.withUnsafeReadableBytes { bytes in
            self[side].decoder.feed(bytes) { append($0, from: side, at: now) }
        }
        if decodesLines {
            self[side].lastReadAt = eventLoop.now
            scheduleQuietTimer(side)
        }
    }

    /// `side`'s read burst is over (the connection's `channelReadComplete`).
    func endBurst(_ side: ProxySide) {
        let direction = self[side]
        guard !direction.burst.isEmpty else { return }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(direction.burstBytes)
        for read in direction.burst { bytes.append(contentsOf: read.readableBytesView) }
        direction.burst.removeAll(keepingCapacity: true)
        direction.burstBytes = 0
        tape.record(side.sender, bytes, at: direction.burstStartedAt)
    }

    /// `side` sends nothing more: whatever its decoder holds is a message now.
    func finishDecoding(_ side: ProxySide) {
        endBurst(side)
        self[side].quietTimer?.cancel()
        self[side].quietTimer = nil
        guard self[side].decoder.hasPending else { return }
        let now = WallClock.nowMicros()
        self[side].decoder.finish { append($0, from: side, at: now) }
    }

    func end(_ reason: EndReason) {
        guard !ended else { return }
        finishDecoding(.client)
        finishDecoding(.upstream)
        ended = true
        tape.end(reason)
    }

    private subscript(side: ProxySide) -> Direction { side == .client ? client : upstream }

    private func append(_ message: DecodedMessage, from side: ProxySide, at micros: Int64) {
        tape.record(side.sender, Array(message.raw), at: micros,
                    verb: message.verb, payloadRange: message.payloadRange, replyCode: message.replyCode)
    }

    private func scheduleQuietTimer(_ side: ProxySide) {
        guard self[side].quietTimer == nil, self[side].decoder.hasUnterminatedLine else { return }
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        self[side].quietTimer = eventLoop.scheduleTask(deadline: self[side].lastReadAt + quietPeriod) {
            loopBound.value.quietPeriodPassed(side)
        }
    }

    private func quietPeriodPassed(_ side: ProxySide) {
        self[side].quietTimer = nil
        guard !ended, self[side].decoder.hasUnterminatedLine else { return }
        if eventLoop.now < self[side].lastReadAt + quietPeriod {
            scheduleQuietTimer(side)  // more bytes came since the timer was set
            return
        }
        let now = WallClock.nowMicros()
        self[side].decoder.flush { append($0, from: side, at: now) }
    }
}
