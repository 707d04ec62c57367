import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ChannelHandlerContext {
    /// Closes the connection with a RST instead of a FIN (SO_LINGER 0, then close): what the
    /// `reset_peer` and `cut` toxics do, and what the proxy does to one side when the other was
    /// reset. A channel without socket options is just closed.
    public func resetThenClose() {
        guard let socket = channel as? SocketOptionProvider else {
            close(promise: nil)
            return
        }
        socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { _ in
            self.close(promise: nil)
        }
    }
}
