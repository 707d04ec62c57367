import Foundation
import Listening
import NIOCore
import Presentation

/// A listening address held while `serve`, `proxy` and `mock` open their database, so that a port
/// in use (or a host that is not this machine's) stops them before they create anything. The
/// command's own listener takes the socket over (`handOver`), so a client that connects early is
/// served; `--web` and `--metrics` bind their address themselves after `release`.
final class PortReservation {
    private let address: HostPort
    private var descriptor: CInt?

    /// Binds `address` and listens there (port 0 too, to check the host): a listening socket is
    /// what another reservation of the same port, `--web` on `--listen`'s, collides with. A
    /// client that connects before the server takes over waits in the backlog; on a released
    /// reservation it is reset.
    init(_ address: HostPort) throws {
        self.address = address
        let resolved = try SocketAddress.makeAddressResolvingHost(address.host, port: address.port)
        let fd = socket(CInt(resolved.protocol.rawValue), CInt(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        // As the server sets it: a port whose last connections are in TIME_WAIT is free.
        var one: CInt = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        guard resolved.withSockAddr({ bind(fd, $0, socklen_t($1)) }) == 0, listen(fd, 1) == 0 else {
            let code = errno
            close(fd)
            throw IOError(errnoCode: code, reason: "bind")
        }
        descriptor = fd
    }

    /// Gives the socket to the `ListeningServer` that starts on this address (NIO listens on it
    /// again with a server's backlog as it takes it).
    func handOver() {
        guard let descriptor else { return }
        HeldListeners.hold(descriptor, host: address.host, port: address.port)
        self.descriptor = nil
    }

    func release() {
        if let descriptor { close(descriptor) }
        descriptor = nil
    }

    deinit { release() }
}
