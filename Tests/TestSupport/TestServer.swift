import Logging
import NIOCore
import Server
import Store

/// A real `LabServer` on 127.0.0.1 and an ephemeral port, recording into a real SQLite file.
public final class TestServer: Sendable {
    public let server: LabServer
    public let port: Int
    public let databasePath: String

    private init(server: LabServer, port: Int, databasePath: String) {
        self.server = server
        self.port = port
        self.databasePath = databasePath
    }

    public static func start(databasePath: String, busyTimeoutMilliseconds: Int32 = 5_000,
                             configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> TestServer {
        var configuration = ServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.eventLoopThreads = 2
        configure(&configuration)
        var logger = Logger(label: "test.server")
        logger.logLevel = .warning
        let recorder = configuration.recording
            ? Recorder(database: try Store.openForWriting(path: databasePath, busyTimeoutMilliseconds: busyTimeoutMilliseconds),
                       logger: logger)
            : nil
        let server = LabServer(configuration: configuration, recorder: recorder, logger: logger)
        let address = try await server.start()
        return TestServer(server: server, port: address.port!, databasePath: databasePath)
    }

    /// Graceful shutdown: every received command answered and recorded, the recorder drained.
    public func stop() async {
        await server.shutdownGracefully(grace: .seconds(5))
    }
}
