import Migrations
import Recording

/// Why a database could not be used, worded for the person who ran the command.
public enum SQLiteStoreError: StoreFailure, Sendable, Equatable {
    case missingFile(path: String)
    /// An empty SQLite file: a recorder is creating the schema, or none ever did.
    case noSchemaYet(path: String)
    case notADatabase(path: String)
    case notAWirelogDatabase(path: String)
    case schemaTooNew(path: String, databaseVersion: Int, binaryVersion: Int)
    case schemaTooOld(path: String, databaseVersion: Int, binaryVersion: Int)
    case migrationEdited(path: String, version: Int, name: String)
    case migrationFailed(version: Int, name: String, reason: String)
    case invalidMigrationName(String)
    case cannotOpen(path: String, reason: String)
    case readOnly(path: String, reason: String)
    /// This user may not read the file (or its directory, or the -wal and -shm files a writer keeps).
    case unreadable(path: String)
    case corrupt(path: String, detail: String)
    /// A delete or prune committed, but another connection kept the WAL from being emptied.
    case checkpointBlocked(path: String)

    public var isNotCreatedYet: Bool {
        switch self {
        case .missingFile, .noSchemaYet: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .missingFile(let path):
            return "no database at \(path): record something first (wirelog serve --db \(path)) or pass --db / WIRELOG_DB"
        case .noSchemaYet(let path):
            return "\(path) holds no wirelog recordings yet: record something first (wirelog serve --db \(path))"
        case .notADatabase(let path):
            return "\(path) is not a SQLite database; refusing to touch it (pass another --db)"
        case .notAWirelogDatabase(let path):
            return "\(path) is a SQLite database but not a wirelog one; refusing to touch it (pass another --db)"
        case .schemaTooNew(let path, let databaseVersion, let binaryVersion):
            return "\(path) has schema version \(databaseVersion), newer than this wirelog knows (\(binaryVersion)); upgrade wirelog"
        case .schemaTooOld(let path, let databaseVersion, let binaryVersion):
            return "\(path) has schema version \(databaseVersion) but this wirelog needs \(binaryVersion); open it once with a writing command (wirelog serve) to upgrade it"
        case .migrationEdited(let path, let version, let name):
            return "migration \(Migration.fourDigits(version))_\(name).sql differs from the one applied to \(path) (checksum mismatch); restore the original file and add a new migration instead"
        case .migrationFailed(let version, let name, let reason):
            return "migration \(Migration.fourDigits(version))_\(name).sql failed: \(reason)"
        case .invalidMigrationName(let name):
            return "migration file \(name) must be named NNNN_name.sql"
        case .cannotOpen(let path, let reason):
            return "cannot open \(path): \(reason)"
        case .readOnly(let path, let reason):
            return "cannot write to \(path): \(reason); check the file's and its directory's permissions"
        case .unreadable(let path):
            return "cannot read \(path): permission denied; check that you may read it, its -wal and -shm files if there are any, and enter its directory (ls -l), or run as its owner"
        case .corrupt(let path, let detail):
            return "\(path) is damaged (\(detail)); restore it from a backup, or move it aside and record into a new file (sqlite3 \(path) .recover salvages what is readable)"
        case .checkpointBlocked(let path):
            return "the sessions are deleted, but \(path)-wal still holds copies of their pages because another process is reading the store; they are overwritten when it stops (or rerun with nothing else open)"
        }
    }
}
