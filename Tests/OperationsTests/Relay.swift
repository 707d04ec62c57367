import Foundation
import Glibc
import NIOConcurrencyHelpers
import TestSupport

/// A TCP relay on a loopback port in front of another loopback port, that can be taken down
/// (open connections cut, new ones closed at once) and brought back on the same listening socket:
/// a server that goes away and returns, as the recorder sees it.
final class Relay: @unchecked Sendable {
    let port: Int
    private let listener: TestListener
    private let target: Int
    private let state = NIOLockedValueBox((up: true, open: [TestSocket]()))

    init(to target: Int) throws {
        listener = try TestListener()
        port = listener.port
        self.target = target
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Cuts every relayed connection and refuses new ones until `up()`.
    func down() {
        let open = state.withLockedValue { state -> [TestSocket] in
            state.up = false
            defer { state.open = [] }
            return state.open
        }
        for socket in open { shutdown(socket.fd, Int32(SHUT_RDWR)) }
    }

    func up() {
        state.withLockedValue { $0.up = true }
    }

    private func acceptLoop() {
        while let client = try? listener.accept(timeout: 3_600) {
            guard state.withLockedValue({ $0.up }), let server = try? TestSocket.connect(port: target) else {
                client.close()
                continue
            }
            state.withLockedValue { $0.open += [client, server] }
            Thread.detachNewThread { Self.pump(from: client, to: server) }
            Thread.detachNewThread { Self.pump(from: server, to: client) }
        }
    }

    private static func pump(from source: TestSocket, to destination: TestSocket) {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = read(source.fd, &buffer, buffer.count)
            guard count > 0, (try? destination.send(Array(buffer[..<count]))) != nil else { break }
        }
        shutdown(destination.fd, Int32(SHUT_RDWR))
    }
}
