import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIORecording
import Presentation
import Protocols
import Recording
import WirelogTLS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a wait for server bytes ended.
enum ReplyWait: Sendable, Equatable {
    /// As many bytes as expected arrived, at this time.
    case complete(at: NIODeadline)
    /// The bytes already differ from the expected ones and the server has gone quiet.
    case diverged
    case timedOut
    /// The server closed its side (or the connection broke): the reason, for people.
    case ended(String)
}

/// One replay connection. Everything that touches its state runs on the channel's event loop;
/// the async replay drives it through these methods.
final class ReplayConnection: Sendable {
    let channel: Channel
    private let handler: NIOLoopBound<ReplayInboundHandler>
    /// The TLS handshake's facts, with `--tls`.
    let tls: TLSLeg?

    private init(channel: Channel, handler: NIOLoopBound<ReplayInboundHandler>, tls: TLSLeg?) {
        self.channel = channel
        self.handler = handler
        self.tls = tls
    }

    /// Connects (and with `tls`, finishes the handshake: a failure throws `TLSHandshakeError`).
    static func connect(host: String, port: Int, timeout: TimeAmount, settle: TimeAmount, maxBufferedBytes: Int,
                        tls: ClientTLS?, group: any EventLoopGroup) async throws -> ReplayConnection {
        let handshake = NIOLockedValueBox<EventLoopFuture<TLSLeg>?>(nil)
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            // The server may close its side while we still have something to say (and read).
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let done = try tls.addHandlers(to: channel.pipeline.syncOperations, host: host)
                        handshake.withLockedValue { $0 = done }
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        ReplayInboundHandler(settle: settle, maxBufferedBytes: maxBufferedBytes))
                }
            }
            .connect(host: host, port: port).get()
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: ReplayInboundHandler.self), eventLoop: channel.eventLoop)
        }.get()
        let leg = try await handshake.withLockedValue { $0 }?.get()
        return ReplayConnection(channel: channel, handler: handler, tls: leg)
    }

    /// Starts recording this connection as a replay of `original` (before anything is sent),
    /// decoded with the original's protocol when wirelog knows it.
    func record(into sink: any RecordingSink, recorder: String, replayOf original: Int64, decoding: Decoding) async {
        let channel = self.channel
        let tls = self.tls
        let wireProtocol = WireProtocols.named(decoding.rawValue) ?? RawProtocol.self
        await run { handler in
            let info = SessionInfo(
                kind: .replay, decoding: Decoding(wireProtocol.name), recorder: recorder,
                clientHost: channel.localAddress?.ipAddress ?? "unknown", clientPort: channel.localAddress?.port ?? 0,
                serverHost: channel.remoteAddress?.ipAddress ?? "unknown", serverPort: channel.remoteAddress?.port ?? 0,
                startedMicros: WallClock.nowMicros(), replayOf: original, tls: tls.map { TLSDetails(server: $0) })
            handler.startRecording(into: sink, info, decodedWith: wireProtocol, on: channel.eventLoop)
        }
    }

    /// Writes `bytes`; returns when they were handed to the socket, or nil when the connection is gone.
    func send(_ bytes: [UInt8]) async -> NIODeadline? {
        let channel = self.channel
        let future: EventLoopFuture<NIODeadline?> = channel.eventLoop.flatSubmit { [handler] in
            let handler = handler.value
            guard handler.ended == nil else { return channel.eventLoop.makeSucceededFuture(nil) }
            handler.recordSent(bytes)
            let sentAt = NIODeadline.now()
            return channel.writeAndFlush(channel.allocator.buffer(bytes: bytes))
                .map { Optional(sentAt) }
                .recover { _ in nil }
        }
        return (try? await future.get()) ?? nil
    }

    /// TCP half-close: the server sees the end of our input and can still answer.
    func closeOutput() async {
        try? await channel.close(mode: .output)
    }

    /// Waits until at least `expected.count` unclaimed bytes arrived, the timeout passed, the
    /// bytes differ and the server went quiet, or the server closed.
    func awaitReply(_ expected: [UInt8], timeout: TimeAmount) async -> ReplyWait {
        await run { handler, promise in handler.wait(for: expected, timeout: timeout, promise: promise) }
    }

    /// Waits until at least `count` unclaimed bytes arrived, the timeout passed or the server closed.
    func awaitBytes(_ count: Int, timeout: TimeAmount) async -> ReplyWait {
        await run { handler, promise in handler.wait(forCount: count, timeout: timeout, promise: promise) }
    }

    /// The first `count` unclaimed bytes (all of them when fewer arrived).
    func take(_ count: Int) async -> [UInt8] {
        await run { handler in
            let taken = Array(handler.received.prefix(count))
            handler.received.removeFirst(taken.count)
            return taken
        }
    }

    /// Waits for the server to close, up to `timeout`; true when it did.
    func awaitEnd(timeout: TimeAmount) async -> Bool {
        let outcome = await run { handler, promise in handler.wait(for: nil, timeout: timeout, promise: promise) }
        if case .ended = outcome { return true }
        return false
    }

    /// Every byte received and not yet claimed.
    func take() async -> [UInt8] {
        await run { handler in
            defer { handler.received.removeAll(keepingCapacity: true) }
            return handler.received
        }
    }

    /// Why the server's side ended, if it did.
    func serverEnded() async -> String? {
        await run { $0.ended }
    }

    /// Ends the recording, then the connection; returns the recorded session's id once its end is
    /// committed (nil when not recording or when the commit failed).
    func close() async -> Int64? {
        let stored = channel.eventLoop.makePromise(of: Int64?.self)
        let handler = self.handler
        channel.eventLoop.execute { handler.value.finishRecording(then: stored) }
        try? await channel.close()
        return try? await stored.futureResult.get()
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable (ReplayInboundHandler) -> T) async -> T {
        let handler = self.handler
        // The loop outlives every connection (the singleton group), so submit cannot fail.
        return try! await channel.eventLoop.submit { body(handler.value) }.get()
    }

    private func run(_ body: @escaping @Sendable (ReplayInboundHandler, EventLoopPromise<ReplyWait>) -> Void) async -> ReplyWait {
        let handler = self.handler
        let promise = channel.eventLoop.makePromise(of: ReplyWait.self)
        channel.eventLoop.execute { body(handler.value, promise) }
        return try! await promise.futureResult.get()
    }
}

/// Collects what the server sends and wakes the replay when a wait is over.
final class ReplayInboundHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private struct Waiter {
        /// nil: waiting for the server to close (or for `count` bytes).
        let expected: [UInt8]?
        /// Set: waiting for this many bytes, whatever they are.
        var count: Int?
        let promise: EventLoopPromise<ReplyWait>
        var timer: Scheduled<Void>?
        var settleTimer: Scheduled<Void>?
        /// Received bytes already found equal to the expected ones.
        var matchedCount = 0
        var diverged = false
    }

    /// Received and not yet claimed by a step.
    var received: [UInt8] = []
    /// Why the server's side ended; nil while it is open.
    private(set) var ended: String?
    /// The replay's own recording (`--record`): raw chunks both ways, or decoded as the original was.
    private var tape: SessionTape?
    private var decoder: ConversationDecoder?
    /// Completed with the session's id once the commit holding its end is delivered.
    private var storedPromise: EventLoopPromise<Int64?>?
    private var waiter: Waiter?
    private let settle: TimeAmount
    private let maxBufferedBytes: Int
    private var context: ChannelHandlerContext?

    init(settle: TimeAmount, maxBufferedBytes: Int) {
        self.settle = settle
        self.maxBufferedBytes = maxBufferedBytes
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard ended == nil else { return }
        // A server that floods must not exhaust memory: keep what fits, then give up on it.
        let room = maxBufferedBytes - received.count
        buffer.withUnsafeReadableBytes { bytes in
            let kept = UnsafeRawBufferPointer(rebasing: bytes.prefix(max(0, room)))
            received.append(contentsOf: kept)
            record(Array(kept), from: .server)
        }
        if buffer.readableBytes > room {
            serverEnded("the server sent more than \(maxBufferedBytes) bytes the replay did not ask for")
            context.close(promise: nil)
            return
        }
        check()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            serverEnded("the server closed the connection")
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        serverEnded("the connection was closed")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let io = error as? IOError, io.errnoCode == ECONNRESET {
            serverEnded("the server reset the connection")
        } else {
            serverEnded("the connection failed: \(NetworkErrorText.reason(error))")
        }
        context.close(promise: nil)
    }

    private func serverEnded(_ reason: String) {
        guard ended == nil else { return }
        ended = reason
        finishWait(.ended(reason))
    }

    func wait(for expected: [UInt8]?, count: Int? = nil, timeout: TimeAmount, promise: EventLoopPromise<ReplyWait>) {
        precondition(waiter == nil, "one wait at a time")
        waiter = Waiter(expected: expected, count: count, promise: promise)
        if check() { return }
        guard let eventLoop = context?.eventLoop else {
            finishWait(.ended(ended ?? "the connection was closed"))
            return
        }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        waiter?.timer = eventLoop.scheduleTask(in: timeout) { bound.value.finishWait(.timedOut) }
    }

    func wait(forCount count: Int, timeout: TimeAmount, promise: EventLoopPromise<ReplyWait>) {
        wait(for: nil, count: count, timeout: timeout, promise: promise)
    }

    /// Ends the current wait when its condition holds; true when it did.
    @discardableResult
    private func check() -> Bool {
        guard let current = waiter else { return false }
        if let count = current.count {
            if received.count >= count {
                finishWait(.complete(at: .now()))
            } else if let ended {
                finishWait(.ended(ended))
            } else {
                return false
            }
            return true
        }
        if let ended {
            if let expected = current.expected, received.count >= expected.count {
                finishWait(.complete(at: .now()))
            } else {
                finishWait(.ended(ended))
            }
            return true
        }
        guard let expected = current.expected else { return false }
        if received.count >= expected.count {
            finishWait(.complete(at: .now()))
            return true
        }
        // A visible difference will not go away: wait only until the server pauses, not for the timeout.
        if !current.diverged {
            let start = current.matchedCount
            if received[start...].elementsEqual(expected[start..<received.count]) {
                waiter?.matchedCount = received.count
            } else {
                waiter?.diverged = true
            }
        }
        if waiter?.diverged == true, let eventLoop = context?.eventLoop {
            waiter?.settleTimer?.cancel()
            let bound = NIOLoopBound(self, eventLoop: eventLoop)
            waiter?.settleTimer = eventLoop.scheduleTask(in: settle) { bound.value.finishWait(.diverged) }
        }
        return false
    }

    private func finishWait(_ outcome: ReplyWait) {
        guard let current = waiter else { return }
        waiter = nil
        current.timer?.cancel()
        current.settleTimer?.cancel()
        current.promise.succeed(outcome)
    }

    func startRecording(into sink: any RecordingSink, _ info: SessionInfo, decodedWith wireProtocol: any WireProtocol.Type,
                        on eventLoop: any EventLoop) {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        tape = SessionTape(sink: sink, info: info, delivery: .eventLoop(eventLoop)) { outcome in
            bound.value.recordingCommitted(outcome)
        }
        if wireProtocol != RawProtocol.self { decoder = ConversationDecoder(wireProtocol, limits: DecoderLimits()) }
    }

    /// What the replay sends, recorded before it is written.
    func recordSent(_ bytes: [UInt8]) {
        record(bytes, from: .client)
    }

    private func record(_ bytes: [UInt8], from sender: Sender) {
        guard let tape, !bytes.isEmpty else { return }
        tape.countWireBytes(bytes.count, from: sender)
        if decoder != nil {
            decoder?.feed(ByteBuffer(bytes: bytes), from: sender, at: WallClock.nowMicros(), tape.record)
        } else {
            tape.record(sender, bytes)
        }
    }

    func finishRecording(then stored: EventLoopPromise<Int64?>) {
        guard let tape, !tape.hasEnded else {
            stored.succeed(nil)
            return
        }
        let now = WallClock.nowMicros()
        decoder?.finish(.client, at: now, tape.record)
        decoder?.finish(.server, at: now, tape.record)
        storedPromise = stored
        tape.end(ended == nil ? .clientClosed : .serverClosed)
    }

    private func recordingCommitted(_ outcome: CommitOutcome) {
        guard let tape else { return }
        tape.apply(outcome)
        // Outcomes after the end was queued are those of the transactions that held it.
        guard tape.hasEnded, let promise = storedPromise else { return }
        storedPromise = nil
        if case .committed = outcome { promise.succeed(tape.storedID) } else { promise.succeed(nil) }
    }
}
