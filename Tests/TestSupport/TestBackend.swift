import Foundation
import Backends
import PostgresBackend

/// The stores every store-facing test runs on: `@Test(arguments: TestBackend.allCases)`.
/// Without `WIRELOG_TEST_POSTGRES_URL` the PostgreSQL case fails (it does not skip): a skipped
/// backend is not a pass. `scripts/test` sets it.
public enum TestBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }

    /// A fresh, empty store for one test: the file `name.sqlite` in `directory` (not created yet),
    /// or a new database of its own on the test PostgreSQL. Each call gives another store.
    public func freshStore(in directory: TemporaryDirectory, name: String = "wirelog") throws -> StoreLocation {
        switch self {
        case .sqlite: return .sqlite(path: directory.file("\(name).sqlite"))
        case .postgres: return try StoreLocation(try TestPostgres.freshDatabaseURL())
        }
    }
}

extension StoreLocation {
    /// What `--db` takes to name this store (the test PostgreSQL needs no password).
    public var argument: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres(let url):
            let host = url.host.contains(":") ? "[\(url.host)]" : url.host
            let password = url.password.map { ":" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0) } ?? ""
            let ssl = url.sslMode == .prefer ? "" : "?sslmode=\(url.sslMode.rawValue)"
            return "postgres://\(url.user)\(password)@\(host):\(url.port)/\(url.database)\(ssl)"
        }
    }

    /// The SQLite file, for checks of SQLite files as such (integrity); nil for PostgreSQL.
    public var sqlitePath: String? {
        if case .sqlite(let path) = self { return path }
        return nil
    }
}
