import NIOConcurrencyHelpers
import NIOCore

/// The open connections: counted for the connection limit, listed for a graceful shutdown.
final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: Channel] = [:]
        var accepting = true
    }

    private let state = NIOLockedValueBox(State())

    /// Registers `channel` unless the server is at `limit` or shutting down.
    func admit(_ channel: Channel, limit: Int) -> Bool {
        let admitted = state.withLockedValue { state in
            guard state.accepting, state.channels.count < limit else { return false }
            state.channels[ObjectIdentifier(channel)] = channel
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { [weak self] _ in
                self?.state.withLockedValue { _ = $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
            }
        }
        return admitted
    }

    var count: Int { state.withLockedValue { $0.channels.count } }

    /// Stops admitting and returns the channels open now.
    func closeDoors() -> [Channel] {
        state.withLockedValue { state in
            state.accepting = false
            return Array(state.channels.values)
        }
    }
}
