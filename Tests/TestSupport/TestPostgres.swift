import Foundation

/// The PostgreSQL server the tests run against: the throwaway cluster that `scripts/test` starts
/// (`scripts/pg-test-cluster`), or a developer's own, named by environment variables:
///
/// - `WIRELOG_TEST_POSTGRES_URL`: a superuser that needs no password, e.g.
///   `postgres://wirelog@127.0.0.1:PORT/wirelog`; each test makes its own database through it.
/// - `WIRELOG_TEST_POSTGRES_PASSWORD_URL`: a role with password authentication (no password in
///   the URL; the cluster's `wirelog_pw` has the password `right-password`).
/// - `WIRELOG_TEST_POSTGRES_RESTART`: an executable that restarts the server and returns once it
///   accepts connections again.
///
/// Databases are made with psql (PATH), never dropped: the throwaway cluster goes whole.
public enum TestPostgres {
    public static let urlVariable = "WIRELOG_TEST_POSTGRES_URL"
    public static let passwordURLVariable = "WIRELOG_TEST_POSTGRES_PASSWORD_URL"
    public static let restartVariable = "WIRELOG_TEST_POSTGRES_RESTART"

    /// A new, empty database owned by the superuser of `WIRELOG_TEST_POSTGRES_URL`; its URL.
    public static func freshDatabaseURL() throws -> String {
        let base = try setting(urlVariable)
        return try url(base, database: createDatabase(owner: nil))
    }

    /// A new database owned by the password role of `WIRELOG_TEST_POSTGRES_PASSWORD_URL`; its URL
    /// with `password` in it, or with none when `password` is nil.
    public static func passwordURL(password: String?) throws -> String {
        let base = try setting(passwordURLVariable)
        guard let role = URLComponents(string: base)?.user else { throw TestPostgresError.badURL(base) }
        return try url(base, database: createDatabase(owner: role), password: password)
    }

    /// A new LOGIN role with `password` (checked over 127.0.0.1), granted nothing; its name.
    public static func freshRole(password: String) throws -> String {
        let name = "wl_role_\(getpid())_\(counter.next())_\(String(UInt32.random(in: .min ... .max), radix: 16))"
        try psql(try setting(urlVariable), "CREATE ROLE \(name) LOGIN PASSWORD '\(password)'")
        return name
    }

    /// The role whose password travels in clear (pg_hba method `password`), and that password.
    public static let cleartextRole = (user: "wirelog_clear", password: "clear-text-password")
    /// The role that logs in with an MD5 challenge (pg_hba method `md5`), and its password.
    public static let md5Role = (user: "wirelog_md5", password: "md5-hashed-password")
    /// The role that logs in with SCRAM-SHA-256, and its password.
    public static let scramRole = (user: "wirelog_pw", password: "right-password")

    /// The test server's host and port.
    public static func serverAddress() throws -> (host: String, port: Int) {
        let base = try setting(urlVariable)
        guard let components = URLComponents(string: base), let host = components.host, let port = components.port else {
            throw TestPostgresError.badURL(base)
        }
        return (host, port)
    }

    /// Restarts the server (`WIRELOG_TEST_POSTGRES_RESTART`) and waits until it is back.
    public static func restart(timeout: TimeInterval = 120) throws {
        let command = try setting(restartVariable)
        let result = try WirelogProcess([], executable: command).wait(timeout: timeout)
        guard result.status == 0 else {
            throw TestPostgresError.failed(command: command, status: result.status, output: result.stdoutText + result.stderrText)
        }
    }

    /// Runs `sql` with psql against `url`; its output, unaligned and tuples only, trimmed.
    /// `environment` adds variables for psql (e.g. `PGPASSWORD`). Throws with psql's stderr.
    @discardableResult
    public static func psql(_ url: String, _ sql: String, environment: [String: String] = [:]) throws -> String {
        // -X: no ~/.psqlrc; -w: never ask for a password (it would wait on the terminal).
        let arguments = ["psql", "-X", "-w", "-v", "ON_ERROR_STOP=1", "-qAt", "-d", url, "-c", sql]
        let result = try WirelogProcess(arguments, environment: environment, executable: "/usr/bin/env").wait(timeout: 60)
        guard result.status == 0 else {
            throw TestPostgresError.failed(command: "psql \(url) -c \"\(sql)\"", status: result.status, output: result.stderrText)
        }
        return result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `wl_test_<pid>_<counter>_<random>`: unique within the run and across runs on one server.
    private static func createDatabase(owner: String?) throws -> String {
        let base = try setting(urlVariable)
        let name = "wl_test_\(getpid())_\(counter.next())_\(String(UInt32.random(in: .min ... .max), radix: 16))"
        try psql(base, "CREATE DATABASE \(name)" + (owner.map { " OWNER \(quotedIdentifier($0))" } ?? ""))
        return name
    }

    private static func url(_ base: String, database: String, password: String? = nil) throws -> String {
        guard var components = URLComponents(string: base) else { throw TestPostgresError.badURL(base) }
        components.path = "/" + database
        if let password { components.password = password }
        guard let url = components.string else { throw TestPostgresError.badURL(base) }
        return url
    }

    private static func quotedIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private static func setting(_ variable: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
            throw TestPostgresError.notSet(variable)
        }
        return value
    }

    private static let counter = Counter()

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0

        func next() -> Int { lock.withLock { value += 1; return value } }
    }
}

public enum TestPostgresError: Error, CustomStringConvertible {
    case notSet(String)
    case badURL(String)
    case failed(command: String, status: Int32, output: String)

    public var description: String {
        switch self {
        case .notSet(let variable):
            "\(variable) is not set: run the suite with scripts/test (it starts a throwaway PostgreSQL); a skipped backend is not a pass"
        case .badURL(let url): "not a PostgreSQL URL: \(url)"
        case .failed(let command, let status, let output): "\(command) exited with \(status):\n\(output)"
        }
    }
}
