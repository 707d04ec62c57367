import NIOConcurrencyHelpers
import NIOCore

/// How the server tracks one admitted connection until it ends: counted for the connection limit,
/// told to finish on shutdown, closed when the grace period runs out. A proxied session outlives
/// its client channel while the upstream drains, so this is a session, not a channel.
public struct TrackedConnection: Sendable {
    /// Completes once the connection (session) has ended.
    public var ended: EventLoopFuture<Void>
    /// Shutdown began: finish what was received, then close.
    public var quiesce: @Sendable () -> Void
    /// The grace period is over: close now.
    public var abort: @Sendable () -> Void

    public init(ended: EventLoopFuture<Void>, quiesce: @escaping @Sendable () -> Void, abort: @escaping @Sendable () -> Void) {
        self.ended = ended
        self.quiesce = quiesce
        self.abort = abort
    }

    /// A connection that is its channel: it ends when the channel closes, and is told to quiesce
    /// with NIO's `ChannelShouldQuiesceEvent`.
    public static func channel(_ channel: Channel) -> TrackedConnection {
        TrackedConnection(
            ended: channel.closeFuture,
            quiesce: { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) },
            abort: { channel.close(promise: nil) })
    }
}

/// The open connections: counted for the connection limit, listed for a graceful shutdown.
final class ConnectionRegistry: Sendable {
    private struct State {
        var connections: [Int: TrackedConnection] = [:]
        var nextKey = 0
        var accepting = true
    }

    private let state = NIOLockedValueBox(State())

    /// Registers the connection `make` sets up, unless the server is at `limit` or shutting down
    /// (then `make` is not called and the result is nil).
    func admit(limit: Int, _ make: () throws -> TrackedConnection) rethrows -> TrackedConnection? {
        let admitted = try state.withLockedValue { state -> (Int, TrackedConnection)? in
            guard state.accepting, state.connections.count < limit else { return nil }
            let connection = try make()
            state.nextKey += 1
            state.connections[state.nextKey] = connection
            return (state.nextKey, connection)
        }
        guard let (key, connection) = admitted else { return nil }
        connection.ended.whenComplete { [weak self] _ in
            self?.state.withLockedValue { _ = $0.connections.removeValue(forKey: key) }
        }
        return connection
    }

    var count: Int { state.withLockedValue { $0.connections.count } }

    /// Stops admitting and returns the connections open now.
    func closeDoors() -> [TrackedConnection] {
        state.withLockedValue { state in
            state.accepting = false
            return Array(state.connections.values)
        }
    }
}
