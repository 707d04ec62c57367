import Foundation
import Testing
import TestSupport

/// Each toxic a session met is stored with it, on either store, and shown by `sessions show`
/// (and its `--json`, which `export` shares).
@Suite struct RecordedFaultsTests {
    @Test(arguments: TestBackend.allCases)
    func sessionsShowWhatToxicsDid(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        let lab = try await FaultLab(database: store.argument)
        let port = try lab.redisProxy("redis")
        #expect(try lab.api("POST", "/proxies/redis/toxics", #"{"type":"latency","attributes":{"latency":50}}"#).status == 200)
        #expect(try lab.redisCLI(port, "PING") == "PONG\n")
        #expect(try lab.api("POST", "/reset").status == 204)
        #expect(try lab.api("POST", "/proxies/redis/toxics", #"{"name":"rst","type":"reset_peer","stream":"upstream"}"#).status == 200)
        #expect(throws: (any Error).self) { try lab.redisCLI(port, "PING") }
        let sessions = try await endedSessions(store, count: 2)
        #expect(try lab.stop().failure == nil)

        let slow = try WirelogProcess.run(["sessions", "show", String(sessions[0].id), "--db", store.argument])
        #expect(slow.failure == nil)
        #expect(slow.stdoutText.contains(
            "latency_downstream (latency:latency=50,jitter=0,stream=downstream) downstream: delayed bytes by 50 ms ± 0 ms"), "\(slow.stdoutText)")
        let reset = try WirelogProcess.run(["sessions", "show", String(sessions[1].id), "--db", store.argument, "--json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(reset.stdoutText.utf8)) as? [String: Any])
        let faults = try #require(json["faults"] as? [[String: Any]])
        #expect(faults.map { $0["toxic"] as? String } == ["rst", "rst"])
        #expect(faults.map { $0["what"] as? String } == ["dropped bytes; resets 0 ms after the first",
                                                         "reset the connection (RST) 0 ms after its first bytes"])
        #expect(faults.allSatisfy { $0["direction"] as? String == "upstream" && ($0["at_us"] as? Int ?? 0) > 0 })

        // A copy to the other backend keeps them.
        let other = try (backend == .sqlite ? TestBackend.postgres : .sqlite).freshStore(in: directory, name: "copy")
        let copied = try WirelogProcess.run(["sessions", "copy", "--from", store.argument, "--to", other.argument])
        #expect(copied.failure == nil)
        let copy = try WirelogProcess.run(["sessions", "show", "1", "--db", other.argument])
        #expect(copy.stdoutText.contains("latency_downstream (latency:latency=50,jitter=0,stream=downstream) downstream"), "\(copy.stdoutText)")

        // The viewer's session page shows the same lines.
        let web = try WirelogProcess(["web", "--listen", "127.0.0.1:0", "--db", store.argument])
        defer {
            web.signal(SIGTERM)
            _ = try? web.wait()
        }
        let log = try web.waitForStderr(containing: "web viewer on http://127.0.0.1:")
        let webPort = Int(log.components(separatedBy: "web viewer on http://127.0.0.1:")[1].prefix { $0.isNumber })!
        let page = try APIClient(port: webPort)("GET", "/api/sessions/\(sessions[1].id)")
        let view = try #require(try JSONSerialization.jsonObject(with: Data(page.body.utf8)) as? [String: Any])
        let lines = try #require(view["fault_text"] as? [String])
        #expect(lines.count == 2 && lines[1].hasSuffix("rst (reset_peer:timeout=0,stream=upstream) upstream: reset the connection (RST) 0 ms after its first bytes"))
    }
}
