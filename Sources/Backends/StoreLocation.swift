import Foundation
import Logging
import PostgresBackend
import Recording
import SQLiteBackend

/// Where recordings live, from `--db` / `WIRELOG_DB`: a SQLite file path, or a PostgreSQL URL.
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresURL)

    /// Reads a `--db` value (`option` names where it came from, for messages). A URL with a
    /// scheme this binary does not know is refused rather than taken for a file name.
    public init(_ text: String, option: String = "--db") throws(StoreLocationError) {
        if text.isEmpty { throw .notAFile(option: option, reason: "must name a file (it is empty)") }
        if text == ":memory:" {
            throw .notAFile(option: option, reason: "must name a file: ':memory:' is SQLite's in-memory database, where nothing recorded would last")
        }
        do {
            if let url = try PostgresURL(text) {
                self = .postgres(url)
                return
            }
        } catch {
            throw .badURL(option: option, error)
        }
        if let scheme = text.range(of: "://").map({ String(text[..<$0.lowerBound]) }) {
            throw .unknownScheme(option: option, scheme)
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory), isDirectory.boolValue {
            throw .notAFile(option: option, reason: "\(text) is a directory: name a file, e.g. \((text as NSString).appendingPathComponent("wirelog.sqlite"))")
        }
        // Else SQLite's "cannot open" (writing) or "no database" (reading) would hide what is wrong.
        let directory = (text as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            throw .notAFile(option: option, reason: "\(text): the directory \(directory) does not exist; create it first (mkdir -p \(directory))")
        }
        self = .sqlite(path: text)
    }

    /// For messages and logs (a URL's password is never shown).
    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let url): url.description
        }
    }

    /// Opens the store for the `sessions` commands, replay and copy (`upgrading` hears of each
    /// migration applied to an existing store).
    public func openStore(_ access: StoreAccess, upgrading: @escaping (String) -> Void = { _ in }) async throws -> any RecordingStore {
        switch self {
        case .sqlite(let path):
            switch access {
            case .read: return SQLiteStore(database: try SQLiteFile.openForReading(path: path))
            case .modify:
                // Opening for writing would create a missing file: a typo in --db must not make a new store.
                guard FileManager.default.fileExists(atPath: path) else { throw SQLiteStoreError.missingFile(path: path) }
                return SQLiteStore(database: try SQLiteFile.openForWriting(path: path) { upgrading($0.fileName) })
            case .create: return SQLiteStore(database: try SQLiteFile.openForWriting(path: path) { upgrading($0.fileName) })
            }
        case .postgres(let url):
            return try await PostgresStore.open(url, forWriting: access != .read, creating: access == .create,
                                                logger: Self.quietLogger) { upgrading($0.fileName) }
        }
    }

    /// Opens the store, runs `body` with it, and closes it whatever happens.
    public func withStore<T>(_ access: StoreAccess, _ body: (any RecordingStore) async throws -> T) async throws -> T {
        let store = try await openStore(access)
        do {
            let result = try await body(store)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }

    /// Opens the store for live recording (serve, proxy, replay --record).
    public func openRecorder(_ settings: RecorderSettings, logger: Logger) async throws -> any RecordingSink {
        switch self {
        case .sqlite(let path):
            let database = try SQLiteFile.openForWriting(
                path: path, durability: settings.durability,
                busyTimeoutMilliseconds: Int32(clamping: settings.busyTimeoutMilliseconds)) { migration in
                logger.notice("upgrading the schema of \(path): migration \(migration.fileName) (can take a while on a large database)")
            }
            return try SQLiteRecorder(database: database, recorder: settings.recorderName, redactionRules: settings.redactionRules,
                                      useStoreRules: settings.useStoreRules, logger: logger, onDamage: settings.onDamage)
        case .postgres(let url):
            return try await PostgresRecorder.open(url, recorderName: settings.recorderName, durability: settings.durability,
                                                   redactionRules: settings.redactionRules, useStoreRules: settings.useStoreRules,
                                                   logger: logger) { migration in
                logger.notice("upgrading the schema of \(url): migration \(migration.fileName)")
            }
        }
    }

    /// The SQLite library this binary uses (`wirelog --version`).
    public static var sqliteVersion: String { SQLiteFile.libraryVersion }

    /// The `sessions` commands report failures themselves, in one line.
    private static let quietLogger = Logger(label: "wirelog.store") { _ in SwiftLogNoOpLogHandler() }
}

public enum StoreAccess: Sendable {
    /// Queries only; the store must exist at this binary's schema.
    case read
    /// Changes to a store that must exist (prune, delete); its schema is upgraded if needed.
    case modify
    /// Writes, creating the store when it does not exist (copy's destination, synthetic data).
    case create
}

/// How a recorder writes, whatever the backend.
public struct RecorderSettings: Sendable {
    public var durability: Durability = .normal
    /// How long a commit waits for another writer's lock before what it holds fails (SQLite).
    public var busyTimeoutMilliseconds: Int64 = 5_000
    /// Who the sessions say recorded them: a recorder closes the sessions that a dead recorder
    /// of its name left open.
    public var recorderName = RecorderName.hostName
    /// Told once if the store turns out damaged while recording (a SQLite file's pages): nothing
    /// can be recorded any more, so the caller should stop.
    public var onDamage: @Sendable (String) -> Void = { _ in }
    /// What every recorded message is cleared of before it is stored (`--redact`, presets).
    public var redactionRules: [RedactionRule] = []
    /// Whether the store's own rules apply too, and `redactionRules` are added to them
    /// (`--no-store-rules` turns both off).
    public var useStoreRules = true

    public init() {}
}

/// A `--db` value that names no store.
public enum StoreLocationError: StoreFailure, Sendable, Equatable {
    case notAFile(option: String, reason: String)
    case unknownScheme(option: String, String)
    case badURL(option: String, PostgresStoreError)

    public var description: String {
        switch self {
        case .notAFile(let option, let reason):
            "\(option) \(reason)"
        case .unknownScheme(let option, let scheme):
            "\(option): unknown kind of store '\(scheme)://': give a file path (SQLite) or a postgres:// URL"
        case .badURL(let option, let error):
            "\(option): \(error)"
        }
    }
}
