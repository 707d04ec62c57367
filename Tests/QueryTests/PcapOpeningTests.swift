import Backends
import Foundation
import Recording
import Testing
import TestSupport

/// A pcap shows only what happened on the wire: a proxied connection whose upstream refused (or
/// never answered) has no handshake, data or FIN exchange, only the attempt.
@Suite struct PcapOpeningTests {
    @Test(arguments: TestBackend.allCases)
    func anUpstreamThatRefusedOrNeverAnsweredShowsOnlyTheAttempt(_ backend: TestBackend) async throws {
        let tshark = try #require(["/usr/bin/tshark", "/usr/local/bin/tshark"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                  "tshark is needed (apt-get install tshark)")
        let dir = TemporaryDirectory("wirelog-pcap-opening")
        let store = try backend.freshStore(in: dir)
        let started = WallClock.nowMicros()
        // As the proxy records them (ForwardingTests): no message, the failure as the end reason.
        func proxied(clientPort: Int, _ reason: EndReason, endedAfter micros: Int64) -> (CompleteSession, String?) {
            let info = SessionInfo(kind: .proxy, decoding: .raw, clientHost: "127.0.0.1", clientPort: clientPort,
                                   serverHost: "127.0.0.1", serverPort: 6379, startedMicros: started)
            let end = SessionEnd(atMicros: started + micros, reason: reason, bytesFromClient: 0, bytesFromServer: 0, messageCount: 0)
            return (CompleteSession(info: info, end: end, messages: []), nil)
        }
        let ids = try await store.withStore(.create) {
            try await $0.write([proxied(clientPort: 40_000, .upstreamRefused, endedAfter: 300),
                                proxied(clientPort: 40_001, .upstreamTimeout, endedAfter: 5_000_000)])
        }.compactMap { $0 }
        #expect(ids.count == 2)

        let file = dir.file("attempts.pcap")
        let export = try QueryFixture.sessions(["export"] + ids.map(String.init) + ["--format", "pcap", "-o", file], db: store.argument)
        #expect(export.failure == nil)
        let packets = try runTool(tshark, ["-r", file, "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.flags", "-e", "frame.time_epoch"])
        #expect(packets.status == 0, "\(packets.stderr)")
        let rows = packets.stdout.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        #expect(rows.map { Array($0.prefix(2)) } == [["40000", "0x0002"], ["6379", "0x0014"], ["40001", "0x0002"]])
        // The reset comes when the proxy learned of the refusal: the session's end.
        let resetAt = try #require(rows.dropFirst().first?.last.flatMap(Double.init))
        #expect(Int64((resetAt * 1_000_000).rounded()) == started + 300)
    }
}
