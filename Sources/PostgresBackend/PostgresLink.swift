import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Recording

/// One connection to a PostgreSQL store, with the URL's settings; every failure comes out as a
/// `PostgresStoreError` (plain words, no password).
final class PostgresLink: Sendable {
    let url: PostgresURL
    let connection: PostgresConnection
    private let logger: Logger

    private init(url: PostgresURL, connection: PostgresConnection, logger: Logger) {
        self.url = url
        self.connection = connection
        self.logger = logger
    }

    static func connect(_ url: PostgresURL, logger: Logger, connectTimeout: TimeAmount = .seconds(10)) async throws -> PostgresLink {
        let tls: PostgresConnection.Configuration.TLS
        switch url.sslMode {
        case .disable:
            tls = .disable
        case .prefer, .require:
            // As libpq's prefer and require: encrypted, the server's certificate not verified
            // (that is verify-ca / verify-full, which this URL form does not offer).
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            let context = try NIOSSLContext(configuration: configuration)
            tls = url.sslMode == .require ? .require(context) : .prefer(context)
        }
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: tls)
        configuration.options.connectTimeout = connectTimeout
        // postgres-nio's own logs would repeat every failure we report in plain words.
        var quiet = logger
        quiet.logLevel = .critical
        do {
            let connection = try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration,
                id: 1, logger: quiet)
            return PostgresLink(url: url, connection: connection, logger: quiet)
        } catch {
            throw PostgresStoreError.from(error, url: url)
        }
    }

    /// Runs `query` and collects its rows.
    @discardableResult
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        do {
            var rows: [PostgresRow] = []
            for try await row in try await connection.query(query, logger: logger) { rows.append(row) }
            return rows
        } catch {
            throw PostgresStoreError.from(error, url: url)
        }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    func transaction<T: Sendable>(_ body: (PostgresLink) async throws -> T) async throws -> T {
        try await rows("BEGIN")
        do {
            let result = try await body(self)
            try await rows("COMMIT")
            return result
        } catch {
            _ = try? await rows("ROLLBACK")
            throw error
        }
    }

    /// A link let go without `close()` (a store nobody closed) closes its connection, as a
    /// SQLite connection finalizes: postgres-nio must not see its connection freed while open.
    deinit {
        let connection = self.connection
        guard !connection.isClosed else { return }
        // The callback keeps the connection until its channel has closed.
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// Runs `body` on this link, giving up when the connection closes or `limit` passes: a query
    /// whose server went away in the middle (a restart) can otherwise wait forever. Giving up
    /// closes the connection, which fails whatever still waits on it.
    func bounded<T: Sendable>(by limit: Duration,
                              _ body: @escaping @Sendable (PostgresLink) async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body(self) }
            group.addTask {
                let deadline = ContinuousClock.now + limit
                while !self.connection.isClosed && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                return nil
            }
            defer { group.cancelAll() }
            if let finished = try await group.next(), let value = finished { return value }
            connection.close().whenComplete { _ in }
            throw PostgresStoreError.connectionLost(target: url.description)
        }
    }

    var isClosed: Bool { connection.isClosed }

    func close() async {
        try? await connection.close()
    }
}
