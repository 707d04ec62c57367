import Backends
import Foundation
import Recording
import Testing
import TestSupport

/// Real clients and servers through the recording proxy with `--decode auto` (its default): the
/// protocol is recognised, each request and response is one message with its fields, and each
/// response names the request it answers. The bytes stay exactly what crossed the wire.
@Suite struct DecodedPeersTests {
    @Test(arguments: TestBackend.allCases)
    func redisCommandsAndPipelinesAreDecodedIntoExchanges(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let redisPort = try freePort()
        let redis = try Program("redis-server", [
            "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        ], directory: directory.path)
        defer { redis.stop() }
        try await waitUntilListening(port: redisPort)
        let proxy = try await ProxyHarness.start(upstreamPort: redisPort, store: try backend.freshStore(in: directory))
        let port = String(proxy.port)
        let value = "line one\r\nline two"
        #expect(try await onThread { try Program.run("redis-cli", ["-p", port, "SET", "greeting", value]) } == "OK\n")
        let failed = try await onThread { try Program.run("redis-cli", ["-p", port, "INCR", "greeting"]) }
        #expect(failed.contains("ERR"))
        // 48 commands, 16 to a write: 48 messages each way, not one per read.
        _ = try await onThread {
            try Program.run("redis-benchmark", ["-p", port, "-n", "48", "-c", "1", "-P", "16", "-t", "set", "-q"])
        }
        _ = try await endedSessions(proxy.store, count: 3)
        await proxy.stop()

        let sessions = try await RecordedRows.sessions(proxy.store)
        #expect(Set(sessions.map(\.decoding)) == ["resp"])
        let messages = try await proxy.store.withStore(.read) { store in
            try await sessions.asyncMap { try await store.messages(ofSession: $0.id) }
        }
        let set = messages[0]
        #expect(set.map(\.sender) == [.client, .server])
        #expect(set[0].verb == "SET")
        #expect(set[0].fields[field: "key"] == .text("greeting"))
        #expect(set[0].fields[field: "arguments"] == .integer(2))
        #expect(set[1].fields[field: "type"] == .text("simple"))
        #expect(set[1].exchange?.requestSeq == set[0].seq)
        #expect(String(decoding: set[0].raw, as: UTF8.self) == "*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$18\r\n\(value)\r\n")
        let incr = messages[1]
        #expect(incr[1].fields[field: "error"] == .text("ERR"))
        #expect(incr[1].exchange?.requestSeq == incr[0].seq)

        // redis-benchmark asks CONFIG first, then the pipelined SETs.
        let bench = try #require(messages.first { $0.filter { $0.verb == "SET" }.count == 48 })
        let requests = bench.filter { $0.sender == .client }
        let replies = bench.filter { $0.sender == .server }
        #expect(requests.count == replies.count)
        #expect(replies.compactMap(\.exchange?.requestSeq) == requests.map(\.seq), "every reply answers its command, in order")
        #expect(replies.allSatisfy { $0.exchange!.durationMicros >= 0 })
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var mapped: [T] = []
        for element in self { mapped.append(try await transform(element)) }
        return mapped
    }
}
