import Foundation
import Recording

extension SessionQueries {
    /// `wirelog status`: the file, its WAL and segment files on disk; sessions; open recorders.
    public func status() throws -> StoreStatus {
        let counts = try database.prepare("""
            SELECT count(*), count(*) FILTER (WHERE ended_us IS NULL), min(started_us), max(started_us) FROM sessions
            """)
        _ = try counts.step()
        let open = try database.prepare("""
            SELECT recorder, count(*) FROM sessions WHERE ended_us IS NULL GROUP BY recorder ORDER BY 2 DESC, 1
            """)
        var recorders: [StoreStatus.Recorder] = []
        while try open.step() { recorders.append(.init(name: open.text(0) ?? "", openSessions: open.int64(1))) }
        let path = database.path
        let segments = SegmentFiles.directory(ofDatabase: path)
        let segmentBytes = ((try? FileManager.default.contentsOfDirectory(atPath: segments)) ?? [])
            .reduce(Int64(0)) { $0 + Self.fileSize("\(segments)/\($1)") }
        return StoreStatus(
            kind: "sqlite", schemaVersion: Int(try database.scalarInt("SELECT max(version) FROM wirelog_migrations") ?? 0),
            parts: [.init(name: path, bytes: Self.fileSize(path)), .init(name: path + "-wal", bytes: Self.fileSize(path + "-wal")),
                    .init(name: segments, bytes: segmentBytes)],
            sessions: counts.int64(0), openSessions: counts.int64(1),
            oldestStartedMicros: counts.optionalInt64(2), newestStartedMicros: counts.optionalInt64(3), recorders: recorders)
    }

    private static func fileSize(_ path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }
}
