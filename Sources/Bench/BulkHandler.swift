import Foundation
import NIOCore
import Presentation

/// Random bytes that stand for an endless stream: a block of a prime length (so the stream never
/// lines up with read or write sizes), plus one chunk more so that any window of up to `chunk`
/// bytes is contiguous.
struct BulkPattern: Sendable {
    static let blockLength = 1_048_573
    static let chunk = 64 * 1024
    let bytes: ByteBuffer

    init(allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        var generator = SystemRandomNumberGenerator()
        var block = [UInt8](repeating: 0, count: Self.blockLength)
        block.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                var word = generator.next()
                let count = min(8, raw.count - offset)
                withUnsafeBytes(of: &word) { raw.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: count) }
                offset += count
            }
        }
        var buffer = allocator.buffer(capacity: Self.blockLength + Self.chunk)
        buffer.writeBytes(block)
        buffer.writeBytes(block[0..<Self.chunk])
        bytes = buffer
    }
}

/// One connection of a bulk run: writes `total` bytes of the pattern as fast as the channel takes
/// them, and checks that every byte read back is the one sent at that position.
final class BulkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let pattern: BulkPattern
    private let total: Int
    /// Where in the pattern this connection's stream starts.
    private let origin: Int
    private let replyTimeoutNanos: Int64
    private let done: EventLoopPromise<ConnectionStats>
    private var written = 0
    private var stats = ConnectionStats()
    private var began = false
    private var finished = false
    /// Set when this side closes (done, or after counting an error): the close is not the server's doing.
    private var closing = false
    private var lastReadAt: UInt64 = 0
    private var watchdog = ReplyWatchdog()
    private var context: ChannelHandlerContext?

    init(pattern: BulkPattern, total: Int, origin: Int, replyTimeoutNanos: Int64, done: EventLoopPromise<ConnectionStats>) {
        self.pattern = pattern
        self.total = total
        self.origin = origin % BulkPattern.blockLength
        self.replyTimeoutNanos = replyTimeoutNanos
        self.done = done
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        if !began && stats.errors == 0 { stats.fail("no connection") }
        finish()
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is BeginLoad else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        began = true
        lastReadAt = uptimeNanos()
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        watchdog.start(on: context.eventLoop, timeoutNanos: replyTimeoutNanos) { bound.value.checkStall() }
        writeMore(context: context)
        if total == 0 { close(context) }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if began { writeMore(context: context) }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        lastReadAt = uptimeNanos()
        while incoming.readableBytes > 0 {
            let position = (origin + stats.verifiedBytes) % BulkPattern.blockLength
            let length = min(incoming.readableBytes, BulkPattern.blockLength + BulkPattern.chunk - position,
                             total - stats.verifiedBytes)
            guard length > 0 else {
                stats.fail("the server sent more bytes than it was sent")
                close(context)
                return
            }
            let same = incoming.withUnsafeReadableBytes { received in
                pattern.bytes.withUnsafeReadableBytes { expected in
                    memcmp(received.baseAddress!, expected.baseAddress! + position, length) == 0
                }
            }
            guard same else {
                stats.fail("echoed bytes differ from those sent, within bytes \(stats.verifiedBytes)..<\(stats.verifiedBytes + length)")
                stats.badReplies += 1
                close(context)
                return
            }
            incoming.moveReaderIndex(forwardBy: length)
            stats.verifiedBytes += length
        }
        if stats.verifiedBytes == total {
            stats.lastProgressAt = lastReadAt
            close(context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if began && !closing {
            stats.fail("the server closed the connection after echoing \(stats.verifiedBytes) of \(total) bytes")
        }
        finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        stats.fail(NetworkErrorText.reason(error))
        close(context)
    }

    /// Writes the next chunks while the channel takes them; writability brings us back.
    private func writeMore(context: ChannelHandlerContext) {
        var wrote = false
        while written < total && context.channel.isWritable {
            let position = (origin + written) % BulkPattern.blockLength
            let length = min(BulkPattern.chunk, total - written)
            context.write(wrapOutboundOut(pattern.bytes.getSlice(at: pattern.bytes.readerIndex + position, length: length)!),
                          promise: nil)
            written += length
            wrote = true
        }
        if wrote { context.flush() }
    }

    private func checkStall() {
        guard !finished, let context else { return }
        if Int64(uptimeNanos() &- lastReadAt) > replyTimeoutNanos {
            stats.fail("no echo for \(DurationText.micros(replyTimeoutNanos / 1_000)) after \(stats.verifiedBytes) of \(total) bytes")
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
