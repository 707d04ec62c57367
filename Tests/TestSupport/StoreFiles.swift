import Backends
import Foundation

/// What a store holds on the disk, byte for byte: the SQLite file with its -wal, -shm and -journal
/// files, or a pg_dump of the PostgreSQL database. Tests of secrets count occurrences here, not
/// through the store's API, to prove absence.
public enum StoreFiles {
    /// How many times `needle` occurs in the store's files (or dump), as it is or, for a dump,
    /// in the hex form pg_dump writes bytea values in.
    public static func occurrences(of needle: String, in store: StoreLocation) throws -> Int {
        let hex = Array(needle.utf8.map { String(format: "%02x", $0) }.joined().utf8)
        return try contents(of: store).reduce(0) { total, bytes in
            total + count(Array(needle.utf8), in: bytes) + (store.sqlitePath == nil ? count(hex, in: bytes) : 0)
        }
    }

    /// Each file's bytes (SQLite: the database, its WAL and its segment files), or the dump (PostgreSQL).
    public static func contents(of store: StoreLocation) throws -> [[UInt8]] {
        switch store {
        case .sqlite(let path):
            let segments = (try? FileManager.default.contentsOfDirectory(atPath: path + "-segments")) ?? []
            return (["", "-wal", "-shm", "-journal"].map { path + $0 } + segments.map { "\(path)-segments/\($0)" })
                .compactMap { FileManager.default.contents(atPath: $0).map { Array($0) } }
        case .postgres:
            let result = try WirelogProcess(["pg_dump", "--no-owner", "-d", store.argument], executable: "/usr/bin/env").wait(timeout: 60)
            guard result.status == 0 else {
                throw TestPostgresError.failed(command: "pg_dump", status: result.status, output: result.stderrText)
            }
            return [result.stdout]
        }
    }

    private static func count(_ needle: [UInt8], in haystack: [UInt8]) -> Int {
        guard let first = needle.first, haystack.count >= needle.count else { return 0 }
        var found = 0
        var index = 0
        while index <= haystack.count - needle.count {
            if haystack[index] == first && haystack[index..<index + needle.count].elementsEqual(needle) {
                found += 1
                index += needle.count
            } else {
                index += 1
            }
        }
        return found
    }
}
