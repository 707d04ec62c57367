import Client
import Foundation
import Recording
import SQLiteBackend
import Testing
import TestSupport

private let notRecorded = "451 NREC\r\nCommand-description: Server storage error, command not acknowledged, try again later\r\n"

/// SQLite only: faults of a SQLite file as such (a lock another connection holds, a full disk).
/// PostgreSQL's own faults (a server restarted or gone) belong to the PostgreSQL fault tests.
@Suite struct StorageFaultTests {
    @Test func aLockedDatabaseMeansNoAcknowledgementAndServiceResumesWhenItClears() async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("locked.sqlite")
        let server = try await TestServer.start(databasePath: path, busyTimeoutMilliseconds: 100)
        let other = try Database(path: path, mode: .readWrite)
        try other.execute("BEGIN IMMEDIATE")

        let blocked = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        try await blocked.send(Array("DATA never stored\n".utf8))
        let reply = try await blocked.readReply().map { String(decoding: $0, as: UTF8.self) }
        #expect(reply == notRecorded)
        #expect(try await blocked.readReply() == nil)
        await blocked.close()

        try other.execute("ROLLBACK")
        let later = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        try await later.send(Array("DATA stored\n".utf8))
        #expect(try await later.readReply() == Array("300 DRCV\n".utf8))
        await later.close()
        await server.stop()

        // The refused command may still reach the file in a later batch; what matters is that
        // everything acknowledged is there.
        let payloads = try await RecordedRows.messages(path).compactMap { $0.payload.map { String(decoding: $0, as: UTF8.self) } }
        #expect(payloads.last == "stored")
    }

    /// Payloads of 4,000 bytes are stored in the database; of 9,000, in a segment file (8 KiB and more).
    @Test(arguments: [4_000, 9_000])
    func aFullDiskIsReportedAndNothingUnstoredIsAcknowledged(payloadSize: Int) async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("full.sqlite")
        // A file-size limit stands in for a full disk: writes past it fail with EFBIG. 1024 blocks
        // (512 KiB in dash) leave room for the schema and some commands; 400 of 4 KB do not fit.
        let serve = try WirelogProcess([
            "/bin/sh", "-c", "ulimit -f 1024 && exec \"$0\" \"$@\"", WirelogBinary.path,
            "serve", "--listen", "127.0.0.1:0", "--db", path,
        ], executable: "/usr/bin/env")
        let port = try serve.listeningPort()
        var acknowledged: [String] = []
        var refused = 0
        let payload = String(repeating: "x", count: payloadSize)
        for n in 0..<400 where refused < 3 {
            let connection = try await LabConnection.connect(host: "127.0.0.1", port: port)
            try await connection.send(Array("DATA \(n) \(payload)\n".utf8))
            let reply = try await connection.readReply().map { String(decoding: $0, as: UTF8.self) }
            if reply == "300 DRCV\n" { acknowledged.append("\(n) \(payload)") } else {
                #expect(reply == notRecorded)
                refused += 1
            }
            await connection.close()
        }
        #expect(refused == 3, "the limit was never reached")
        #expect(!acknowledged.isEmpty)
        serve.signal(SIGTERM)
        let result = try serve.wait(timeout: 30)
        #expect(result.failure == nil)
        #expect(result.stderrText.contains("recording failed"))
        #expect(try RecordedRows.integrityCheck(path) == "ok")
        let messages = try await RecordedRows.messages(path)
        let stored = Set(messages.compactMap { $0.payload.map { String(decoding: $0, as: UTF8.self) } })
        #expect(Set(acknowledged).subtracting(stored).isEmpty)
        // A batch that failed took its bytes back out of the segment file: it holds exactly the stored ones.
        let segments = path + "-segments"
        var segmentBytes = 0
        for file in (try? FileManager.default.contentsOfDirectory(atPath: segments)) ?? [] {
            let attributes = try FileManager.default.attributesOfItem(atPath: "\(segments)/\(file)")
            segmentBytes += (attributes[.size] as? Int) ?? 0
        }
        let largeMessageBytes: Int = messages.map(\.raw.count).filter { $0 >= 8 << 10 }.reduce(0, +)
        #expect(segmentBytes == largeMessageBytes)
    }
}
