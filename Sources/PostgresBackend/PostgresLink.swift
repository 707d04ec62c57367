import Foundation
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

    /// Runs a prepared statement (prepared on this connection the first time) and collects its rows.
    func execute<Statement: PostgresPreparedStatement>(_ statement: Statement) async throws -> [Statement.Row]
    where Statement.Row: Sendable {
        do {
            var rows: [Statement.Row] = []
            for try await row in try await connection.execute(statement, logger: logger) { rows.append(row) }
            return rows
        } catch {
            throw PostgresStoreError.from(error, url: url)
        }
    }

    /// Returns once the statement run before it on this link has committed, or throws.
    ///
    /// A statement run alone is an implicit transaction, which PostgreSQL commits at the Sync that
    /// follows it, after it has answered; postgres-nio hands back the answer at CommandComplete,
    /// before that. A backend stopped in between (`pg_ctl restart -m fast`) sends the answer on
    /// its way out and rolls the transaction back. postgres-nio starts a query only once the one
    /// before it is over (ReadyForQuery, after the commit), and closes the connection when an
    /// error follows a finished query (a stopped backend, a failed commit): so this query
    /// succeeding is the commit confirmed: one more round trip, where `BEGIN` … `COMMIT` would be
    /// two (BENCHMARKS.md, "Confirmed commits", has what each costs). `FleetTests` cuts a
    /// connection at that moment (`PostgresCutter`) to keep this true.
    func confirmCommitted() async throws {
        try await rows("SELECT 1")
    }

    /// Runs `body` in a transaction (`begin` can ask for another isolation): committed when it
    /// returns, rolled back when it throws.
    func transaction<T: Sendable>(_ begin: PostgresQuery = "BEGIN", _ body: (PostgresLink) async throws -> T) async throws -> T {
        try await rows(begin)
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
    /// whose server went away in the middle (a restart) can otherwise wait forever, even after its
    /// connection is closed. Giving up closes the connection and leaves `body` behind (it ends when
    /// postgres-nio lets it go); the caller goes on at once.
    func bounded<T: Sendable>(by limit: Duration,
                              _ body: @escaping @Sendable (PostgresLink) async throws -> T) async throws -> T {
        let outcome = FirstOutcome<T>()
        let lost = PostgresStoreError.connectionLost(target: url.description)
        return try await withCheckedThrowingContinuation { continuation in
            outcome.deliver(to: continuation)
            let watcher = Task {
                let deadline = ContinuousClock.now + limit
                while !self.connection.isClosed && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                if outcome.settle(.failure(lost)) { self.connection.close().whenComplete { _ in } }
            }
            Task {
                do {
                    _ = outcome.settle(.success(try await body(self)))
                } catch {
                    _ = outcome.settle(.failure(error))
                }
                watcher.cancel()
            }
        }
    }

    var isClosed: Bool { connection.isClosed }

    func close() async {
        try? await connection.close()
    }
}

/// The first of several racing results, handed to one continuation.
private final class FirstOutcome<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?

    func deliver(to continuation: CheckedContinuation<T, any Error>) {
        lock.withLock { self.continuation = continuation }
    }

    /// True when this was the first result (and it was delivered).
    func settle(_ result: Result<T, any Error>) -> Bool {
        guard let continuation = lock.withLock({ () -> CheckedContinuation<T, any Error>? in
            defer { self.continuation = nil }
            return self.continuation
        }) else { return false }
        continuation.resume(with: result)
        return true
    }
}
