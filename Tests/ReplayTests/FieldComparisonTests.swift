import Backends
import Foundation
import Testing
import TestSupport

/// Replay of HTTP compared field by field: noise learnt from the server itself becomes rules, with
/// which the replay passes; a real change still fails, named by its field.
@Suite struct FieldComparisonTests {
    @Test(arguments: TestBackend.allCases)
    func learntNoiseIsIgnoredAndARenamedFieldIsNamed(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        let server = try await JSONServer.start()
        let proxy = try WirelogProcess(["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(server.port)", "--db", store.argument])
        defer { proxy.signal(SIGKILL) }
        let base = "http://127.0.0.1:\(try proxy.listeningPort())"
        _ = try await onThread {
            _ = try Program.run("curl", ["-sS", "\(base)/items?id=1"])
            _ = try Program.run("curl", ["-sS", "-H", "Content-Type: application/json", "-d", #"{"name":"x"}"#, "\(base)/orders"])
        }
        proxy.signal(SIGTERM)
        #expect(try proxy.wait().failure == nil)

        let db = store.argument
        let to = "127.0.0.1:\(server.port)"
        let plain = try WirelogProcess.run(["replay", "--kind", "proxy", "--to", to, "--db", db])
        #expect(plain.status == 1)
        #expect(plain.stdoutText.contains("differs   header date: recorded"))
        #expect(plain.stdoutText.contains("differs   $.id: recorded"))

        let rules = directory.path + "/rules.txt"
        let learning = try WirelogProcess.run(["replay", "--kind", "proxy", "--to", to, "--db", db, "--learn-noise", "3", "--write-rules", rules])
        #expect(learning.failure == nil)
        let written = try String(contentsOfFile: rules, encoding: .utf8)
        for rule in ["ignore-header date", "ignore-json $.id", "ignore-json $.n"] { #expect(written.contains(rule + "\n"), "\(rule)") }
        let ruled = try WirelogProcess.run(["replay", "--kind", "proxy", "--to", to, "--db", db, "--rules", rules])
        #expect(ruled.status == 0, "\(ruled.stdoutText)")

        server.stop()
        let renamed = try await JSONServer.start(pathField: "route")
        defer { renamed.stop() }
        let changed = try WirelogProcess.run(["replay", "--kind", "proxy", "--to", "127.0.0.1:\(renamed.port)", "--db", db, "--rules", rules, "--json"])
        #expect(changed.status == 1)
        #expect(changed.stdoutText.contains(#"{"name":"$.path","expected":"\"\\/items?id=1\""}"#))
        #expect(changed.stdoutText.contains(#"{"name":"$.route","actual":"\"\\/items?id=1\""}"#))

        let badRules = directory.path + "/bad.txt"
        try Data("ignore-header date\nignore-json $.items[x]\n".utf8).write(to: URL(fileURLWithPath: badRules))
        let bad = try WirelogProcess.run(["replay", "--kind", "proxy", "--to", to, "--db", db, "--rules", badRules])
        #expect(bad.status == 64)
        #expect(bad.stderrText.contains(#"bad.txt line 2: JSONPath "$.items[x]": "[x]" is not [N], [*] or ['name']"#))
    }

    /// PostgreSQL replies compared by row and column: a timestamp differs by its column name, and
    /// learnt as noise it is left out.
    @Test(arguments: TestBackend.allCases)
    func postgresRowsDifferByColumnAndLearntNoiseLeavesThemOut(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        let server = try TestPostgres.serverAddress()
        let proxy = try WirelogProcess(["proxy", "--listen", "127.0.0.1:0", "--upstream", "\(server.host):\(server.port)", "--db", store.argument])
        defer { proxy.signal(SIGKILL) }
        var through = try #require(URLComponents(string: try TestPostgres.freshDatabaseURL()))
        through.port = try proxy.listeningPort()
        through.query = "sslmode=disable"
        let url = try #require(through.string)
        #expect(try await onThread { try TestPostgres.psql(url, "SELECT clock_timestamp() AS now, 42 AS answer") }.hasSuffix("|42"))
        proxy.signal(SIGTERM)
        #expect(try proxy.wait().failure == nil)

        let replay = ["replay", "--kind", "proxy", "--to", "\(server.host):\(server.port)", "--db", store.argument]
        let plain = try WirelogProcess.run(replay)
        #expect(plain.status == 1)
        #expect(plain.stdoutText.contains(#"differs   row 1 column now: recorded ""#), "\(plain.stdoutText)")
        #expect(!plain.stdoutText.contains("column answer"))
        let rules = directory.path + "/pg.rules"
        let learning = try WirelogProcess.run(replay + ["--learn-noise", "2", "--write-rules", rules])
        #expect(learning.failure == nil)
        #expect(try String(contentsOfFile: rules, encoding: .utf8).contains("ignore-field row 1 column now\n"))
        let ruled = try WirelogProcess.run(replay + ["--rules", rules])
        #expect(ruled.status == 0, "\(ruled.stdoutText)")
    }
}
