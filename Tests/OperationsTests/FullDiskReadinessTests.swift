import Client
import Foundation
import Testing
import TestSupport

/// /readyz while SQLite cannot write: a file-size limit stands in for a full disk (as in
/// ServerTests' StorageFaultTests; a soft one, which prlimit can lift from outside as freeing
/// space would).
@Suite struct FullDiskReadinessTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit"), "needs prlimit (util-linux)"))
    func readinessFollowsAFullDisk() async throws {
        let directory = TemporaryDirectory()
        let serve = try WirelogProcess([
            "/bin/sh", "-c", "ulimit -S -f 1024 && exec \"$0\" \"$@\"", WirelogBinary.path,
            "serve", "--listen", "127.0.0.1:0", "--db", directory.file("full.sqlite"), "--metrics", "127.0.0.1:0",
        ], executable: "/usr/bin/env")
        let port = try serve.listeningPort()
        let metrics = try serve.metricsPort()
        #expect(try HTTPReply.get(port: metrics, "/readyz").status == 200)

        let payload = String(repeating: "x", count: 4_000)
        var refused = false
        for n in 0..<400 where !refused {
            refused = try await !acknowledged("DATA \(n) \(payload)\n", port: port)
        }
        #expect(refused, "the limit was never reached")
        let full = try HTTPReply.get(port: metrics, "/readyz")
        #expect(full.status == 503)
        #expect(full.body.contains("the store refuses commits: SQLite refuses commits to"))
        let scraped = Exposition(try HTTPReply.get(port: metrics, "/metrics").body)
        #expect(scraped["wirelog_store_ready{store=\"sqlite\"}"] == 0)
        #expect(scraped["wirelog_storage_errors_total{store=\"sqlite\"}"] >= 1)

        let lifted = try WirelogProcess(["--pid", "\(serve.process.processIdentifier)", "--fsize=unlimited:"],
                                        executable: "/usr/bin/prlimit").wait()
        #expect(lifted.failure == nil)
        #expect(try await acknowledged("DATA after \(payload)\n", port: port))
        #expect(try HTTPReply.get(port: metrics, "/readyz").status == 200)
        serve.signal(SIGTERM)
        _ = try serve.wait()
    }

    /// Sends one lab command on a connection of its own: was it acknowledged (stored)?
    private func acknowledged(_ command: String, port: Int) async throws -> Bool {
        let connection = try await LabConnection.connect(host: "127.0.0.1", port: port)
        try await connection.send(Array(command.utf8))
        let reply = try await connection.readReply()
        await connection.close()
        return reply == Array("300 DRCV\n".utf8)
    }
}
