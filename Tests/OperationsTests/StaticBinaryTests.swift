import Foundation
import Testing
import TestSupport

/// The binary `scripts/build-release` makes runs with no Swift library in reach: copied elsewhere,
/// with an empty environment and `LD_LIBRARY_PATH`. Runs when that binary has been built (a
/// release build is long; `scripts/build-release` first).
@Suite struct StaticBinaryTests {
    static let releaseBinary = URL(fileURLWithPath: WirelogBinary.path)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("release/wirelog").path

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: releaseBinary), "scripts/build-release has not been run"))
    func theReleaseBinaryRunsWithoutTheToolchain() async throws {
        let directory = TemporaryDirectory()
        let binary = directory.file("wirelog")
        try FileManager.default.copyItem(atPath: Self.releaseBinary, toPath: binary)
        let bare = ["-i", "LD_LIBRARY_PATH=", binary]
        let serve = try WirelogProcess(bare + ["serve", "--listen", "127.0.0.1:0", "--db", directory.file("s.sqlite")],
                                       executable: "/usr/bin/env")
        let client = try TestSocket.connect(port: try serve.listeningPort())
        try client.send(Array("DATA hello\nQUIT\n".utf8))
        #expect(String(decoding: try client.receiveAll(), as: UTF8.self) == "300 DRCV\n200 BYE\n")
        serve.signal(SIGTERM)
        #expect(try serve.wait().failure == nil)

        let list = try WirelogProcess(bare + ["sessions", "list", "--db", directory.file("s.sqlite")], executable: "/usr/bin/env").wait()
        #expect(list.failure == nil)
        #expect(list.stdoutText.contains(" quit"))
    }
}
