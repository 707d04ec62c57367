import Backends
import Foundation
import Testing
import TestSupport

/// Large messages (bulk streams): on SQLite their bytes go to segment files beside the database
/// (docs/SCHEMA.md, "Segment files"); whatever the backend, every query sees the same bytes, and
/// delete takes them off the disk.
@Suite struct LargeMessageTests {
    /// Sends 4 MiB with `marker` in the middle through a recording proxy, gets a reply, closes;
    /// runs `whileRecording` once the session has ended, before the proxy stops.
    private func recordBulk(_ store: StoreLocation, marker: String,
                            whileRecording: ([SessionRow]) async throws -> Void = { _ in }) async throws -> [UInt8] {
        let upstream = try TestListener()
        let proxy = try await ProxyHarness.start(upstreamPort: upstream.port, store: store)
        var bytes = randomBytes(4 << 20, seed: 17)
        bytes.replaceSubrange(2_000_000..<(2_000_000 + marker.utf8.count), with: Array(marker.utf8))
        let data = bytes
        let client = try TestSocket.connect(port: proxy.port)
        let server = try await onThread { try upstream.accept() }
        try await onThread { try client.send(data) }
        #expect(try await onThread { try server.receive(exactly: data.count) } == data)
        try await onThread { try server.send(Array("stored\n".utf8)) }
        #expect(try await onThread { try client.receive(exactly: 7) } == Array("stored\n".utf8))
        client.close()
        server.close()
        try await whileRecording(try await endedSessions(store, count: 1))
        await proxy.stop()
        return data
    }

    @Test(arguments: TestBackend.allCases)
    func aBulkStreamReadsBackWholeIsFoundBySearchAndLeavesTheDiskWhenDeleted(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        let marker = "bulk-marker-6b1d9e"
        let data = try await recordBulk(store, marker: marker)

        let sessions = try await RecordedRows.sessions(store)
        #expect(sessions.map(\.bytesFromClient) == [Int64(data.count)])
        #expect(recordedStream(try await RecordedRows.messages(store), sender: "client") == data)
        #expect(recordedStream(try await RecordedRows.messages(store), sender: "server") == Array("stored\n".utf8))
        if let path = store.sqlitePath {
            // In segment files, not in the database: the WAL and the database file never held them.
            let segments = try FileManager.default.contentsOfDirectory(atPath: path + "-segments")
            #expect(!segments.isEmpty)
            for suffix in ["", "-wal"] {
                let bytes = FileManager.default.contents(atPath: path + suffix) ?? Data()
                #expect(bytes.range(of: Data(marker.utf8)) == nil, "\(suffix)")
            }
        }
        #expect(try StoreFiles.occurrences(of: marker, in: store) == 1)

        // Found whether the search scans every message or only those of chosen sessions.
        for filters in [[], ["--since", "1h"]] {
            let search = try WirelogProcess.run(["sessions", "search", marker, "--db", store.argument] + filters)
            #expect(search.failure == nil)
            #expect(search.stdoutText.hasSuffix("1 match\n"), "\(filters): \(search.stdoutText)")
        }

        let exported = try WirelogProcess.run(["sessions", "export", String(sessions[0].id), "--format", "ndjson", "--db", store.argument])
        #expect(exported.failure == nil)

        let deleted = try WirelogProcess.run(["sessions", "delete", String(sessions[0].id), "--db", store.argument])
        #expect(deleted.failure == nil)
        #expect(try StoreFiles.occurrences(of: marker, in: store) == 0)
        if let path = store.sqlitePath {
            // The recorder sealed its segment when it stopped; emptied, it is gone.
            #expect(try FileManager.default.contentsOfDirectory(atPath: path + "-segments").isEmpty)
            #expect(try RecordedRows.integrityCheck(path) == "ok")
        }
    }

    /// Deleted while the recorder still appends to its segment: the segment goes when the recorder seals it.
    @Test func aSegmentEmptiedWhileItIsWrittenLeavesTheDiskWhenSealed() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("live.sqlite")
        _ = try await recordBulk(.sqlite(path: path), marker: "live-marker") { sessions in
            let deleted = try WirelogProcess.run(["sessions", "delete", String(sessions[0].id), "--db", path])
            #expect(deleted.failure == nil)
            #expect(try FileManager.default.contentsOfDirectory(atPath: path + "-segments").count == 1)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: path + "-segments").isEmpty)
        #expect(try RecordedRows.integrityCheck(path) == "ok")
    }

    @Test func aDatabaseMovedWithoutItsSegmentsSaysSo() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("moved.sqlite")
        _ = try await recordBulk(.sqlite(path: path), marker: "moved-marker")
        try FileManager.default.moveItem(atPath: path + "-segments", toPath: directory.file("aside"))
        let sessions = try await RecordedRows.sessions(path)
        let show = try WirelogProcess.run(["sessions", "show", String(sessions[0].id), "--db", path])
        #expect(show.status != 0)
        #expect(show.stderrText.contains("the bytes of a large message are missing"), "\(show.stderrText)")
        #expect(show.stderrText.contains("-segments"), "\(show.stderrText)")
        #expect(show.stderrText.split(separator: "\n").count == 1, "\(show.stderrText)")
    }
}
