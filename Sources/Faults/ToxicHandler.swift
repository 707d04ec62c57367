import NIOCore
import Protocols
import Recording
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One toxic acting on the bytes wirelog writes to one peer (the upstream's channel for an
/// `upstream` toxic, the client's for `downstream`). It sits between the proxy's glue and the
/// socket, so the glue stays unaware of it; toxics of one direction form a chain in the order they
/// were added, as in toxiproxy. Time is the event loop's (`EmbeddedEventLoop.advanceTime` in tests).
///
/// The glue closes a side only after its last write's promise, so a close never overtakes delayed
/// bytes; what delays closes themselves is `slow_close`, and the dropping toxics (`timeout`,
/// `reset_peer`, `hang`) hold back a half-close as toxiproxy holds back the end of the stream.
final class ToxicHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Item {
        case data(ByteBuffer, EventLoopPromise<Void>?)
        case close(CloseMode, EventLoopPromise<Void>?)
    }

    private(set) var toxic: Toxic
    let direction: ToxicDirection
    private let report: (FaultAction) -> Void
    private let queueChanged: (Int) -> Void

    private var context: ChannelHandlerContext?
    private var queue = CircularBuffer<(item: Item, due: NIODeadline)>()
    private var queuedBytes = 0 { didSet { queueChanged(queuedBytes - oldValue) } }
    /// When the last queued item leaves: later bytes never overtake earlier ones.
    private var lastDue = NIODeadline.uptimeNanoseconds(0)
    private var timer: Scheduled<Void>?
    /// `timeout`'s idle timer, `reset_peer`'s and `cut`'s one shot.
    private var deadline: Scheduled<Void>?
    /// Bytes passed on (limit_data, hang).
    private var passedBytes: Int64 = 0
    private var heldClose: (CloseMode, EventLoopPromise<Void>?)?
    /// The toxics that read requests: bytes not yet a whole request, the decoder that cuts them
    /// (once the protocol is known), and whether the request being cut in pieces goes on.
    private var heldRequest = ByteBuffer()
    private var requests: (decoder: any WireDecoder, protocolName: String)?
    private var forwardingRequest = true
    /// Past a request the decoder cannot frame (or a tunnel): the rest goes on as it comes.
    private var passingEverything = false
    /// drop_after: the matching requests forwarded so far.
    private var exchanges: Int64 = 0
    /// Sends bytes to the client (through its direction's toxics), then closes it if told.
    private let answerClient: (ByteBuffer, _ thenClose: Bool) -> Void
    private var reportedEffect = false
    private var finished = false
    private var generator = SystemRandomNumberGenerator()

    init(toxic: Toxic, direction: ToxicDirection, report: @escaping (FaultAction) -> Void, queueChanged: @escaping (Int) -> Void,
         answerClient: @escaping (ByteBuffer, _ thenClose: Bool) -> Void) {
        self.toxic = toxic
        self.direction = direction
        self.answerClient = answerClient
        self.report = report
        self.queueChanged = queueChanged
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        switch toxic.type {
        case .timeout: restartIdleTimeout()
        case .cut: scheduleDeadline(after: toxic["after"], .cut)
        default: break
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
        failQueued(ChannelError.ioOnClosedChannel)
        self.context = nil
    }

    /// Removed (or reset) while the connection goes on: what it holds goes out now, as toxiproxy
    /// lets a removed toxic's data through rather than drop it.
    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        cancelTimers()
        while let (item, _) = queue.popFirst() { pass(item, context: context) }
        queuedBytes = 0
        if let (mode, promise) = heldClose { context.close(mode: mode, promise: promise) }
        heldClose = nil
        context.flush()
        context.leavePipeline(removalToken: removalToken)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        failQueued(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    /// New attributes or toxicity for the same toxic: they apply to what comes next.
    func update(_ toxic: Toxic) {
        let old = self.toxic
        self.toxic = toxic
        if toxic.type == .timeout && old["timeout"] != toxic["timeout"] { restartIdleTimeout() }
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        guard !finished else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let now = context.eventLoop.now
        let start = max(lastDue, now)
        switch toxic.type {
        case .latency:
            enqueue(buffer, promise, due: max(lastDue, now + .milliseconds(latencyMilliseconds())))
        case .bandwidth:
            let rate = toxic["rate"]
            guard rate > 0, buffer.readableBytes > 0 else { return enqueue(buffer, promise, due: start) }
            // Pieces of at most 100 ms each, so the rate holds over short spans too (as toxiproxy).
            var rest = buffer
            var due = start
            let piece = max(1, Int(min(rate * 100, Int64(Int32.max))))
            while rest.readableBytes > 0 {
                let slice = rest.readSlice(length: min(piece, rest.readableBytes))!
                due = due + .microseconds(Int64(slice.readableBytes) * 1_000 / rate)
                enqueue(slice, rest.readableBytes == 0 ? promise : nil, due: due)
            }
        case .slicer:
            let cuts = sliceOffsets(count: buffer.readableBytes)
            guard cuts.count > 1 else { return enqueue(buffer, promise, due: start) }
            var due = start
            for index in 0..<(cuts.count - 1) {
                let slice = buffer.getSlice(at: buffer.readerIndex + cuts[index], length: cuts[index + 1] - cuts[index])!
                enqueue(slice, index == cuts.count - 2 ? promise : nil, due: due)
                due = due + .microseconds(toxic["delay"])
            }
            // toxiproxy waits the delay after the last piece too, before the next bytes.
            lastDue = due
        case .slowClose, .cut:
            enqueue(buffer, promise, due: start)
        case .timeout:
            drop(promise)
            restartIdleTimeout()
        case .resetPeer:
            drop(promise)
            if deadline == nil {
                scheduleDeadline(after: toxic["timeout"], .reset)
            }
        case .limitData:
            let remaining = toxic["bytes"] - passedBytes
            var allowed = buffer
            if Int64(buffer.readableBytes) > remaining {
                allowed = buffer.getSlice(at: buffer.readerIndex, length: Int(max(0, remaining)))!
            }
            passedBytes += Int64(allowed.readableBytes)
            if allowed.readableBytes > 0 { enqueue(allowed, promise, due: start) } else { promise?.succeed(()) }
            if passedBytes >= toxic["bytes"] {
                finished = true
                report(FaultAction(toxic: toxic, direction: direction, what: "closed the connection after \(passedBytes) bytes"))
                enqueueClose(.all, nil, due: start)
            }
        case .httpStatus, .respError, .pgError, .dropAfter:
            drop(promise)
            readRequests(buffer, due: start)
        case .hang:
            let remaining = toxic["after_bytes"] - passedBytes
            if remaining <= 0 { return drop(promise) }
            let allowed = buffer.getSlice(at: buffer.readerIndex, length: Int(min(Int64(buffer.readableBytes), remaining)))!
            passedBytes += Int64(allowed.readableBytes)
            enqueue(allowed, promise, due: start)
            if passedBytes >= toxic["after_bytes"] {
                report(FaultAction(toxic: toxic, direction: direction, what: "stopped forwarding after \(passedBytes) bytes, the connection held open"))
            }
        }
        if !reportedEffect, toxic.type != .limitData, toxic.type != .hang, !toxic.type.readsRequests {
            reportedEffect = true
            report(FaultAction(toxic: toxic, direction: direction, what: effectText))
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch toxic.type {
        case .slowClose:
            let now = context.eventLoop.now
            enqueueClose(mode, promise, due: max(lastDue, now + .milliseconds(toxic["delay"])))
            if !reportedEffect {
                reportedEffect = true
                report(FaultAction(toxic: toxic, direction: direction, what: "delayed the close by \(toxic["delay"]) ms"))
            }
        case .timeout where mode == .output, .resetPeer where mode == .output:
            heldClose = (mode, promise)
        case _ where toxic.type.readsRequests && mode == .output && finished:
            heldClose = (mode, promise)
        case .hang where mode == .output && passedBytes >= toxic["after_bytes"]:
            heldClose = (mode, promise)
        case _ where toxic.type.readsRequests && !finished && heldRequest.readableBytes > 0:
            // What never became a whole request goes on before the close.
            enqueue(heldRequest, nil, due: max(lastDue, context.eventLoop.now))
            heldRequest.clear()
            fallthrough
        default:
            if queue.isEmpty { context.close(mode: mode, promise: promise) } else { enqueueClose(mode, promise, due: lastDue) }
        }
    }

    // MARK: Requests

    /// Cuts the client's bytes into requests with the protocol's decoder; each either goes on or
    /// gets the toxic (answered, or the connection dropped) when it matches the condition.
    private func readRequests(_ buffer: ByteBuffer, due: NIODeadline) {
        guard !passingEverything else { return enqueue(buffer, nil, due: due) }
        heldRequest.writeImmutableBuffer(buffer)
        if requests == nil,
           // drop_after reads whichever protocol the client speaks; until that is known, bytes wait.
           let found = toxic.type.requestProtocol ?? WireProtocols.detect(heldRequest.readableBytesView, final: false) {
            requests = (found.makeDecoders(limits: Self.limits).client, found.name)
            passingEverything = found.name == RawProtocol.name
        }
        while requests != nil, !finished, !passingEverything, let request = requests?.decoder.decode(buffer: &heldRequest) {
            let isPiece = request.fields.contains { $0.name == "continuation" }
            if request.decodeError != nil {
                passingEverything = true
            } else if !isPiece {
                forwardingRequest = !fault(request)
            }
            if forwardingRequest {
                enqueue(request.raw, nil, due: due)
                if isTunnel(request) { passingEverything = true }
            }
        }
        // Past what a decoder may hold without a request coming out, this is not the protocol.
        if heldRequest.readableBytes > Self.limits.maxBufferedBytes { passingEverything = true }
        if finished {
            heldRequest.clear()
        } else if passingEverything, heldRequest.readableBytes > 0 {
            enqueue(heldRequest, nil, due: due)
            heldRequest.clear()
        }
        heldRequest.discardReadBytes()
    }

    private static let limits = DecoderLimits()

    /// Whether `request` gets the toxic (and what it did), or goes on.
    private func fault(_ request: DecodedMessage) -> Bool {
        guard let protocolName = requests?.protocolName else { return false }
        // A request proper: a PostgreSQL turn with a statement (not the login), else one with a verb.
        let isRequest = protocolName == PostgresProtocol.name ? request.fields.contains { $0.name == "statement" } : request.verb != nil
        guard isRequest, toxic.requests.matches(request, protocolName: protocolName) else { return false }
        switch toxic.type {
        case .httpStatus:
            finished = true
            answerClient(HTTPStatusText.response(Int(toxic["status"])), true)
            report(FaultAction(toxic: toxic, direction: direction,
                               what: "answered \(request.verb ?? "a request") with \(HTTPStatusText.line(Int(toxic["status"]))) without forwarding it, then closed"))
        case .respError:
            answerClient(ByteBuffer(string: "-\(toxic.text("error"))\r\n"), false)
            reportOnce("answered \(toxic.requests.isEmpty ? "commands" : "matching commands") with -\(toxic.text("error")) without forwarding them")
        case .pgError:
            let ready = request.fields[field: "messages"]?.text.map { $0.hasSuffix("Sync") || $0.hasSuffix("Query") } ?? true
            answerClient(ByteBuffer(bytes: PostgresProtocol.errorResponse(sqlstate: toxic.text("sqlstate"), message: toxic.text("message"), ready: ready)), false)
            reportOnce("answered \(toxic.requests.isEmpty ? "queries" : "matching queries") with ERROR \(toxic.text("sqlstate")) without forwarding them")
        case .dropAfter:
            guard exchanges >= toxic["exchanges"] else {
                exchanges += 1
                return false
            }
            finished = true
            answerClient(ByteBuffer(), true)
            report(FaultAction(toxic: toxic, direction: direction, what: "dropped the connection at request \(exchanges + 1), after \(exchanges) exchanges"))
        default:
            return false
        }
        return true
    }

    /// After CONNECT or an Upgrade, the bytes are no longer requests of the protocol.
    private func isTunnel(_ request: DecodedMessage) -> Bool {
        guard requests?.protocolName == HTTP1Protocol.name else { return false }
        if request.verb == "CONNECT" { return true }
        let headLength = request.fields[field: "body_offset"]?.integer.map(Int.init) ?? request.raw.readableBytes
        let head = request.raw.readableBytesView.prefix(headLength)
        return String(decoding: head, as: UTF8.self).lowercased().contains("\r\nupgrade:")
    }

    private func reportOnce(_ what: String) {
        guard !reportedEffect else { return }
        reportedEffect = true
        report(FaultAction(toxic: toxic, direction: direction, what: what))
    }

    // MARK: The queue

    private func enqueue(_ buffer: ByteBuffer, _ promise: EventLoopPromise<Void>?, due: NIODeadline) {
        guard let context else { return }
        lastDue = max(lastDue, due)
        if queue.isEmpty && due <= context.eventLoop.now {
            context.write(wrapOutboundOut(buffer), promise: promise)
            return
        }
        queue.append((.data(buffer, promise), due))
        queuedBytes += buffer.readableBytes
        scheduleRelease()
    }

    private func enqueueClose(_ mode: CloseMode, _ promise: EventLoopPromise<Void>?, due: NIODeadline) {
        guard let context else { return }
        lastDue = max(lastDue, due)
        if queue.isEmpty && due <= context.eventLoop.now {
            context.flush()
            context.close(mode: mode, promise: promise)
            return
        }
        queue.append((.close(mode, promise), due))
        scheduleRelease()
    }

    private func scheduleRelease() {
        guard timer == nil, let context, let due = queue.first?.due else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: due) { loopBound.value.release() }
    }

    private func release() {
        timer = nil
        guard let context else { return }
        let now = context.eventLoop.now
        var wrote = false
        while let first = queue.first, first.due <= now {
            queue.removeFirst()
            if case .close = first.item, wrote { context.flush() }
            if case .data = first.item { wrote = true }
            pass(first.item, context: context)
            // A close may have removed the handler (and emptied the queue).
            guard self.context != nil else { return }
        }
        if wrote { context.flush() }
        scheduleRelease()
    }

    private func pass(_ item: Item, context: ChannelHandlerContext) {
        switch item {
        case .data(let buffer, let promise):
            queuedBytes -= buffer.readableBytes
            context.write(wrapOutboundOut(buffer), promise: promise)
        case .close(let mode, let promise):
            context.close(mode: mode, promise: promise)
        }
    }

    private func failQueued(_ error: Error) {
        while let (item, _) = queue.popFirst() {
            switch item {
            case .data(_, let promise): promise?.fail(error)
            case .close(_, let promise): promise?.fail(error)
            }
        }
        queuedBytes = 0
        heldClose?.1?.fail(error)
        heldClose = nil
    }

    /// Dropped on purpose: the write "succeeds" (the glue's ordering waits on it), nothing is sent.
    private func drop(_ promise: EventLoopPromise<Void>?) {
        promise?.succeed(())
    }

    // MARK: Timers

    private func cancelTimers() {
        timer?.cancel()
        timer = nil
        deadline?.cancel()
        deadline = nil
    }

    /// toxiproxy's timeout closes once no bytes came for `timeout` ms; 0 never closes.
    private func restartIdleTimeout() {
        deadline?.cancel()
        deadline = nil
        let timeout = toxic["timeout"]
        guard timeout > 0 else { return }
        scheduleDeadline(after: timeout, .idle)
    }

    /// What a toxic's deadline does when it comes.
    private enum Deadline {
        case idle, reset, cut
    }

    private func scheduleDeadline(after milliseconds: Int64, _ kind: Deadline) {
        guard let context else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: .milliseconds(milliseconds)) {
            loopBound.value.deadline = nil
            loopBound.value.deadlineReached(kind)
        }
    }

    private func deadlineReached(_ kind: Deadline) {
        switch kind {
        case .idle:
            report(FaultAction(toxic: toxic, direction: direction, what: "closed the connection after \(toxic["timeout"]) ms without data"))
            finished = true
            heldClose = nil
            context?.close(promise: nil)
        case .reset: reset(why: "reset the connection (RST) \(toxic["timeout"]) ms after its first bytes")
        case .cut: reset(why: "cut the connection (RST) after \(toxic["after"]) ms")
        }
    }

    /// SO_LINGER 0, then close: the peer gets a RST, as with toxiproxy's reset_peer.
    private func reset(why: String) {
        guard let context, !finished else { return }
        finished = true
        report(FaultAction(toxic: toxic, direction: direction, what: why))
        failQueued(ChannelError.ioOnClosedChannel)
        context.resetThenClose()
    }

    // MARK: The toxics' arithmetic

    /// latency ± jitter, as toxiproxy draws it: uniform in [latency - jitter, latency + jitter).
    private func latencyMilliseconds() -> Int64 {
        let jitter = toxic["jitter"]
        guard jitter > 0 else { return toxic["latency"] }
        return max(0, toxic["latency"] + Int64.random(in: -jitter..<jitter, using: &generator))
    }

    /// Offsets cutting `count` bytes into pieces of about `average_size` ± `size_variation`:
    /// halves of halves until a piece is within the variation of the average, as toxiproxy does.
    func sliceOffsets(count: Int) -> [Int] {
        let average = Int(toxic["average_size"]), variation = Int(toxic["size_variation"])
        var offsets = [0]
        func cut(_ start: Int, _ end: Int) {
            if end - start - average <= variation || end - start <= 1 {
                offsets.append(end)
                return
            }
            let swing = variation > 0 ? Int.random(in: -variation..<variation, using: &generator) : 0
            let middle = min(end - 1, max(start + 1, start + (end - start) / 2 + swing))
            cut(start, middle)
            cut(middle, end)
        }
        if count > 0 { cut(0, count) }
        return offsets
    }

    private var effectText: String {
        switch toxic.type {
        case .latency: "delayed bytes by \(toxic["latency"]) ms ± \(toxic["jitter"]) ms"
        case .bandwidth: "limited the rate to \(toxic["rate"]) KB/s"
        case .slicer: "sliced bytes into pieces of \(toxic["average_size"]) ± \(toxic["size_variation"]) bytes, \(toxic["delay"]) µs apart"
        case .slowClose: "passed bytes; closes wait \(toxic["delay"]) ms"
        case .timeout: toxic["timeout"] == 0 ? "dropped bytes, holding the connection open" : "dropped bytes; closes after \(toxic["timeout"]) ms without data"
        case .resetPeer: "dropped bytes; resets \(toxic["timeout"]) ms after the first"
        case .cut: "passes bytes until the cut at \(toxic["after"]) ms"
        case .limitData, .hang, .httpStatus, .respError, .pgError, .dropAfter: ""
        }
    }
}

/// What a toxic did to one connection, for its session's record and the log.
public struct FaultAction: Sendable, Equatable {
    public let toxic: Toxic
    public let direction: ToxicDirection
    public let what: String

    /// As the session keeps it, stamped now.
    public var record: FaultRecord {
        FaultRecord(atMicros: WallClock.nowMicros(), toxic: toxic.name, type: toxic.type.rawValue, settings: toxic.summary,
                    direction: direction.rawValue, what: what)
    }
}
