import NIOConcurrencyHelpers
import NIOCore

/// Listening sockets a command bound before it was ready to serve (`serve`, `proxy` and `mock`
/// hold their address while the store opens, so that a port in use fails before anything is
/// created), handed to the `ListeningServer` of the same address instead of being closed. A client
/// that connected in the meantime waits in the socket's backlog and is served: closing the socket
/// and binding again would reset it, and a script that waits for the port to accept would see its
/// first connection fail.
public enum HeldListeners {
    private static let held = NIOLockedValueBox<[Key: NIOBSDSocket.Handle]>([:])

    private struct Key: Hashable {
        let host: String
        let port: Int
    }

    /// Keeps `socket`, bound to `host:port` and listening, for the server that starts there.
    public static func hold(_ socket: NIOBSDSocket.Handle, host: String, port: Int) {
        held.withLockedValue { $0[Key(host: host, port: port)] = socket }
    }

    /// The socket held for `host:port`, which the caller now owns; nil when none is.
    static func take(host: String, port: Int) -> NIOBSDSocket.Handle? {
        held.withLockedValue { $0.removeValue(forKey: Key(host: host, port: port)) }
    }
}
