// The schemas live in sqlite/NNNN_name.sql and postgres/NNNN_name.sql beside this file; the
// EmbedMigrations plugin compiles them in, one list per backend (the folder's name).

/// The backends whose schemas this binary carries: the folder names under `migrations/`.
public enum SchemaBackend: String, Sendable, CaseIterable {
    case sqlite, postgres
}

/// One schema step: `migrations/BACKEND/NNNN_name.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String
    /// FNV-1a 64 of the file's bytes, in hex: tells an edited migration from the one applied.
    public let checksum: String

    /// Nil when `fileName` is not `NNNN_name.sql` with a version above 0.
    public init?(fileName: String, bytes: [UInt8]) {
        let stem = fileName.hasSuffix(".sql") ? String(fileName.dropLast(4)) : fileName
        let parts = stem.split(separator: "_", maxSplits: 1)
        guard parts.count == 2, parts[0].count == 4, let version = Int(parts[0]), version > 0 else { return nil }
        self.version = version
        self.name = String(parts[1])
        self.sql = String(decoding: bytes, as: UTF8.self)
        self.checksum = Migration.fnv1a64Hex(bytes)
    }

    /// `NNNN_name.sql`, as in `migrations/BACKEND/`.
    public var fileName: String { "\(Migration.fourDigits(version))_\(name).sql" }

    /// The migrations of `backend` compiled into this binary, in version order. The plugin sorts
    /// by file name; the tests check that every embedded name parses.
    public static func embedded(_ backend: SchemaBackend) -> [Migration] {
        (embeddedMigrationFiles[backend.rawValue] ?? []).compactMap { Migration(fileName: $0.fileName, bytes: $0.bytes) }
    }

    /// 7 → "0007", as in migration file names.
    public static func fourDigits(_ value: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    static func fnv1a64Hex(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
