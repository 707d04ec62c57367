import NIOCore
import NIOPosix

/// A loopback port nobody listens on (bound for a moment by the OS's choice, then released): where
/// a connection is refused.
public func unusedLoopbackPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port ?? 0
    try await channel.close()
    return port
}
