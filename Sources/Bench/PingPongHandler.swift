import Foundation
import LabProtocol
import NIOCore
import Presentation

/// One connection of a closed-loop run: keeps `pipeline` requests in flight, frames replies
/// (one line, two for a lab 4xx reply) straight out of the inbound buffers and times them.
/// Everything per request is preallocated: a ring of send times and one reusable request buffer.
final class PingPongHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: ByteBuffer
    private let expect: [UInt8]?
    private let replyTimeoutNanos: Int64
    private let done: EventLoopPromise<ConnectionStats>
    /// Send times of the requests in flight, oldest at `head`.
    private var sentAt: [UInt64]
    private var head = 0
    private var inFlight = 0
    /// Bytes of a reply split across reads.
    private var partial: ByteBuffer?
    private var stats = ConnectionStats()
    private var begin: BeginLoad?
    private var measuredSent = 0
    private var stopped = false
    private var finished = false
    /// Set when this side closes (done, or after counting an error): the close is not the server's doing.
    private var closing = false
    private var needsFlush = false
    private var lastReplyAt: UInt64 = 0
    private var watchdog = ReplyWatchdog()
    private var context: ChannelHandlerContext?

    init(request: ByteBuffer, expect: [UInt8]?, pipeline: Int, replyTimeoutNanos: Int64,
         done: EventLoopPromise<ConnectionStats>) {
        self.done = done
        self.request = request
        self.expect = expect
        self.replyTimeoutNanos = replyTimeoutNanos
        sentAt = Array(repeating: 0, count: pipeline)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        partial = context.channel.allocator.buffer(capacity: 1024)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if begin == nil && stats.errors == 0 { stats.fail("no connection") }
        finish()
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let load = event as? BeginLoad else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        begin = load
        let now = uptimeNanos()
        lastReplyAt = now
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        watchdog.start(on: context.eventLoop, timeoutNanos: replyTimeoutNanos) { bound.value.checkStall() }
        sendMore(context: context, now: now)
        flushIfNeeded(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        let now = uptimeNanos()
        if partial!.readableBytes == 0 {
            consumeReplies(&incoming, context: context, now: now)
            if incoming.readableBytes > 0 { partial!.writeBuffer(&incoming) }
        } else {
            partial!.writeBuffer(&incoming)
            consumeReplies(&partial!, context: context, now: now)
            partial!.discardReadBytes()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if begin != nil && !closing {
            stats.fail("the server closed the connection" + (inFlight > 0 ? " with \(inFlight) request(s) unanswered" : ""))
        }
        finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        stats.fail(NetworkErrorText.reason(error))
        close(context)
    }

    /// Takes every whole reply off the front of `buffer`.
    private func consumeReplies(_ buffer: inout ByteBuffer, context: ChannelHandlerContext, now: UInt64) {
        let consumed = buffer.withUnsafeReadableBytes { bytes -> Int in
            var offset = 0
            while let length = Self.replyLength(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
                reply(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length]), now: now)
                offset += length
            }
            return offset
        }
        buffer.moveReaderIndex(forwardBy: consumed)
        if consumed > 0 { sendMore(context: context, now: now) }
    }

    /// Length of the first whole reply in `bytes`: one line, or two when it starts with a 4xx status.
    static func replyLength(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard let first = lineEnd(bytes, from: 0) else { return nil }
        if let code = LabReply.statusCode(of: UnsafeRawBufferPointer(rebasing: bytes[0..<first])),
           LabReply.lineCount(statusCode: code) == 2 {
            return lineEnd(bytes, from: first)
        }
        return first
    }

    private static func lineEnd(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress,
              let found = memchr(base + start, 0x0A, bytes.count - start) else { return nil }
        return base.distance(to: UnsafeRawPointer(found)) + 1
    }

    private func reply(_ bytes: UnsafeRawBufferPointer, now: UInt64) {
        let isBad = expect.map { !$0.elementsEqual(bytes) } ?? false
        if isBad { stats.badReply(bytes) }
        guard inFlight > 0, let begin else {
            // A reply nobody asked for.
            if !isBad { stats.badReply(bytes) }
            return
        }
        let sent = sentAt[head]
        head = head + 1 == sentAt.count ? 0 : head + 1
        inFlight -= 1
        lastReplyAt = now
        if sent >= begin.measureStart {
            stats.measured += 1
            stats.lastProgressAt = now
            _ = stats.latencyNanos.record(min(now &- sent, stats.latencyNanos.highestTrackableValue))
        } else {
            stats.warmup += 1
        }
    }

    private func sendMore(context: ChannelHandlerContext, now: UInt64) {
        guard let begin else { return }
        while !stopped && inFlight < sentAt.count {
            if now >= begin.end {
                stopped = true
            } else if now >= begin.measureStart {
                if measuredSent == begin.quota {
                    stopped = true
                } else {
                    measuredSent += 1
                }
            }
            if stopped { break }
            var slot = head + inFlight
            if slot >= sentAt.count { slot -= sentAt.count }
            sentAt[slot] = now
            inFlight += 1
            context.write(wrapOutboundOut(request), promise: nil)
            needsFlush = true
        }
        if stopped && inFlight == 0 {
            flushIfNeeded(context: context)
            close(context)
        }
    }

    private func flushIfNeeded(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    private func checkStall() {
        guard !finished, inFlight > 0, let context else { return }
        if Int64(uptimeNanos() &- lastReplyAt) > replyTimeoutNanos {
            stats.fail("no reply for \(DurationText.micros(replyTimeoutNanos / 1_000))")
            close(context)
        }
    }

    private func close(_ context: ChannelHandlerContext) {
        closing = true
        context.close(promise: nil)
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        watchdog.stop()
        done.succeed(stats)
    }
}
