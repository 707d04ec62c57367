import Logging
import NIOCore
import Backends
import Recording
import Server

/// A real `LabServer` on 127.0.0.1 and an ephemeral port, recording into a real store.
public final class TestServer: Sendable {
    public let server: LabServer
    public let port: Int
    public let store: StoreLocation

    private init(server: LabServer, port: Int, store: StoreLocation) {
        self.server = server
        self.port = port
        self.store = store
    }

    /// The SQLite file it records into (tests of SQLite files only).
    public var databasePath: String {
        guard case .sqlite(let path) = store else { preconditionFailure("not a SQLite store: \(store)") }
        return path
    }

    public static func start(databasePath: String, busyTimeoutMilliseconds: Int64 = 5_000,
                             configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> TestServer {
        try await start(store: .sqlite(path: databasePath), busyTimeoutMilliseconds: busyTimeoutMilliseconds, configure: configure)
    }

    public static func start(store: StoreLocation, busyTimeoutMilliseconds: Int64 = 5_000, redaction: [RedactionRule] = [],
                             configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> TestServer {
        var configuration = ServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.eventLoopThreads = 2
        configure(&configuration)
        var logger = Logger(label: "test.server")
        logger.logLevel = .warning
        var settings = RecorderSettings()
        settings.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        settings.redactionRules = redaction
        let sink = configuration.recording ? try await store.openRecorder(settings, logger: logger) : nil
        let server = LabServer(configuration: configuration, sink: sink, logger: logger)
        let address = try await server.start()
        return TestServer(server: server, port: address.port!, store: store)
    }

    /// Graceful shutdown: every received command answered and recorded, the recorder drained.
    public func stop() async {
        await server.shutdownGracefully(grace: .seconds(5))
    }
}
