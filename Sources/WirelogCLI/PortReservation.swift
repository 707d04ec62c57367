import Foundation
import NIOCore
import Presentation

/// A listening address held while `serve` and `proxy` open their database, so that a port in
/// use (or a host that is not this machine's) stops them before they create anything. The
/// server binds the address itself; the reservation is released just before.
final class PortReservation {
    private var descriptor: CInt?

    /// Binds `address` and listens there (port 0 too, to check the host): a listening socket is
    /// what another reservation of the same port, `--web` on `--listen`'s, collides with. A
    /// client that connects in the moment before the server takes over is reset.
    init(_ address: HostPort) throws {
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

    func release() {
        if let descriptor { close(descriptor) }
        descriptor = nil
    }

    deinit { release() }
}
