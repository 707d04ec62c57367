import Migrations
import NIOCore
import PostgresNIO
import Recording
#if canImport(Glibc)
import Glibc
#endif

/// Why a PostgreSQL store could not be used, worded for the person who ran the command. Never
/// carries a password: targets are `PostgresURL.description`.
public enum PostgresStoreError: StoreFailure, Sendable, Equatable {
    case badURL(String, reason: String)
    case cannotConnect(target: String, reason: String)
    case authenticationFailed(target: String, user: String)
    case noSuchDatabase(target: String)
    case notAWirelogDatabase(target: String)
    case noSchemaYet(target: String)
    case schemaTooNew(target: String, databaseVersion: Int, binaryVersion: Int)
    case schemaTooOld(target: String, databaseVersion: Int, binaryVersion: Int)
    case migrationEdited(target: String, version: Int, name: String)
    case migrationFailed(target: String, version: Int, name: String, reason: String)
    case connectionLost(target: String)
    case queryFailed(target: String, reason: String)
    /// The role lacks a privilege (SQLSTATE 42501): `reason` is PostgreSQL's message.
    case permissionDenied(target: String, user: String, reason: String)

    public var isNotCreatedYet: Bool {
        if case .noSchemaYet = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .badURL(let url, let reason):
            return "cannot read the store URL \(url): \(reason)"
        case .cannotConnect(let target, let reason):
            return "cannot connect to PostgreSQL at \(target): \(reason) (is PostgreSQL running and listening there? check the host and port)"
        case .authenticationFailed(let target, let user):
            return "PostgreSQL at \(target) refused user \(user): wrong password or no access (check the URL, PGPASSWORD or ~/.pgpass, and pg_hba.conf)"
        case .noSuchDatabase(let target):
            return "PostgreSQL has no database for \(target): create it first (createdb) or fix the URL"
        case .notAWirelogDatabase(let target):
            return "\(target) holds other tables but no wirelog schema; refusing to touch it (give wirelog a database of its own)"
        case .noSchemaYet(let target):
            return "\(target) holds no wirelog recordings yet: record something first (wirelog serve --db …)"
        case .schemaTooNew(let target, let databaseVersion, let binaryVersion):
            return "\(target) has schema version \(databaseVersion), newer than this wirelog knows (\(binaryVersion)); upgrade wirelog"
        case .schemaTooOld(let target, let databaseVersion, let binaryVersion):
            return "\(target) has schema version \(databaseVersion) but this wirelog needs \(binaryVersion); open it once with a recording command (wirelog serve) to upgrade it"
        case .migrationEdited(let target, let version, let name):
            return "migration postgres/\(Migration.fourDigits(version))_\(name).sql differs from the one applied to \(target) (checksum mismatch); restore the original file and add a new migration instead"
        case .migrationFailed(let target, let version, let name, let reason):
            return "migration postgres/\(Migration.fourDigits(version))_\(name).sql failed on \(target): \(reason)"
        case .connectionLost(let target):
            return "lost the connection to PostgreSQL at \(target)"
        case .queryFailed(let target, let reason):
            return "PostgreSQL at \(target) refused a query: \(reason)"
        case .permissionDenied(let target, let user, let reason):
            return "PostgreSQL at \(target): \(reason); check the role's privileges (to read, \(user) needs SELECT on the store's tables: GRANT SELECT ON ALL TABLES IN SCHEMA public TO \(user))"
        }
    }

    /// Plain words for what postgres-nio threw while talking to `url`.
    static func from(_ error: any Error, url: PostgresURL) -> PostgresStoreError {
        if let known = error as? PostgresStoreError { return known }
        let target = url.description
        if let transaction = error as? PostgresTransactionError {
            if let inner = transaction.closureError ?? transaction.commitError ?? transaction.beginError {
                return from(inner, url: url)
            }
        }
        guard let psql = error as? PSQLError else {
            return .queryFailed(target: target, reason: String(describing: error))
        }
        if let info = psql.serverInfo {
            let state = info[.sqlState] ?? ""
            let message = info[.message] ?? "error \(state)"
            switch state {
            case "28P01", "28000": return .authenticationFailed(target: target, user: url.user)
            case "3D000": return .noSuchDatabase(target: target)
            case "57P01", "57P02", "57P03": return .connectionLost(target: target)
            case "42501": return .permissionDenied(target: target, user: url.user, reason: message)
            default: return .queryFailed(target: target, reason: "\(message) (SQLSTATE \(state))")
            }
        }
        switch psql.code {
        case .connectionError:
            return .cannotConnect(target: target, reason: describeConnectFailure(psql.underlying))
        case .serverClosedConnection, .uncleanShutdown, .clientClosedConnection:
            return .connectionLost(target: target)
        case .authMechanismRequiresPassword:
            return .authenticationFailed(target: target, user: url.user)
        case .sslUnsupported:
            return .cannotConnect(target: target, reason: "the server does not offer TLS (sslmode=require)")
        default:
            return .queryFailed(target: target, reason: psql.code.description)
        }
    }

    private static func describeConnectFailure(_ error: (any Error)?) -> String {
        guard let error else { return "the connection failed" }
        var errno: CInt?
        if let io = error as? IOError { errno = io.errnoCode }
        if let failure = error as? NIOConnectionError {
            errno = failure.connectionErrors.compactMap { ($0.error as? IOError)?.errnoCode }.first
            if errno == nil, failure.dnsAAAAError != nil || failure.dnsAError != nil { return "the host name does not resolve" }
        }
        if error is ChannelError, case .connectTimeout = error as! ChannelError { return "no answer (timed out)" }
        if let errno { return String(cString: strerror(errno)).lowercased() }
        return "the connection failed"
    }
}
