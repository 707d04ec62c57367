import LabProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Presentation
import WirelogTLS

/// A client connection to a lab server: send bytes, read whole replies.
/// Used from one task at a time.
public final class LabConnection {
    /// Only the inbound side is async: writes go straight to the channel. With no outbound writer
    /// to finish, the connection may be released while the channel's close is still on its way
    /// through the pipeline (an unfinished writer traps when it is released).
    private let channel: NIOAsyncChannel<ByteBuffer, Never>
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private var framer = ReplyFramer()
    private var ended = false

    private init(channel: NIOAsyncChannel<ByteBuffer, Never>) {
        self.channel = channel
        self.iterator = channel.inbound.makeAsyncIterator()
    }

    /// Connects to `host:port`; `timeout` bounds the TCP handshake. With `tls` the TLS handshake
    /// is done too before it returns (a failure throws `TLSHandshakeError`).
    public static func connect(host: String, port: Int, timeout: TimeAmount = .seconds(5), tls: ClientTLS? = nil,
                               group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> LabConnection {
        let (channel, handshake) = try await ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handshake = try tls?.addHandlers(to: channel.pipeline.syncOperations, host: host)
                    return (try NIOAsyncChannel<ByteBuffer, Never>(wrappingChannelSynchronously: channel), handshake)
                }
            }
        let connection = LabConnection(channel: channel)
        do {
            _ = try await handshake?.get()
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    /// Writes `bytes` in one write.
    public func send(_ bytes: some Sequence<UInt8>) async throws {
        try await channel.channel.writeAndFlush(ByteBuffer(bytes: Array(bytes)))
    }

    /// The next whole reply (two lines for a 4xx), or nil when the server closed first.
    /// `timeout` bounds the server's silence, not the whole reply: a long reply that keeps
    /// arriving is waited for. Throws `LabClientError.timedOut` when nothing arrives for `timeout`
    /// before the reply is whole.
    public func readReply(timeout: TimeAmount = .seconds(10)) async throws -> [UInt8]? {
        if let reply = framer.next() { return reply }
        if ended { return nil }
        // A silent server must not hang the caller: after `timeout` without a byte the connection is closed.
        let channel = self.channel.channel
        let silent = NIOLockedValueBox(false)
        func watch() -> Scheduled<Void> {
            channel.eventLoop.scheduleTask(in: timeout) {
                silent.withLockedValue { $0 = true }
                channel.close(promise: nil)
            }
        }
        var timer = watch()
        defer { timer.cancel() }
        while true {
            let chunk: ByteBuffer?
            do {
                chunk = try await iterator.next()
            } catch where silent.withLockedValue({ $0 }) {
                throw LabClientError.timedOut(timeout, receivedBytes: framer.bufferedByteCount)
            }
            guard let chunk else {
                ended = true
                if silent.withLockedValue({ $0 }) { throw LabClientError.timedOut(timeout, receivedBytes: framer.bufferedByteCount) }
                return nil
            }
            timer.cancel()
            timer = watch()
            framer.append(chunk.readableBytesView)
            if let reply = framer.next() { return reply }
        }
    }

    /// Bytes received after the last whole reply (a server that closed mid-reply).
    public func takeUnframedBytes() -> [UInt8] { framer.takeRemainder() }

    /// Stops sending (TCP half-close); replies can still be read.
    public func finishSending() async throws {
        try await channel.channel.close(mode: .output)
    }

    public func close() async {
        try? await channel.channel.close()
    }
}

public enum LabClientError: Error, CustomStringConvertible {
    /// Nothing arrived for the timeout; `receivedBytes` of an incomplete reply had come before.
    case timedOut(TimeAmount, receivedBytes: Int)

    public var description: String {
        switch self {
        case .timedOut(let amount, 0):
            "no reply within \(DurationText.micros(amount.nanoseconds / 1_000))"
        case .timedOut(let amount, let received):
            "the reply stopped after \(counted(received, "byte")) without its line end (nothing more for \(DurationText.micros(amount.nanoseconds / 1_000)))"
        }
    }
}
