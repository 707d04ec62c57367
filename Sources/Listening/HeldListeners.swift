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

    /// The socket held for `host:port`, which the caller now owns; nil when none is. The host may
    /// be spelled another way (`[::1]` and `::1`): a port other than 0 held by this process is the
    /// same address, since binding it again would fail.
    static func take(host: String, port: Int) -> NIOBSDSocket.Handle? {
        held.withLockedValue { held in
            if let socket = held.removeValue(forKey: Key(host: host, port: port)) { return socket }
            guard port != 0, let key = held.keys.first(where: { $0.port == port }) else { return nil }
            return held.removeValue(forKey: key)
        }
    }
}
