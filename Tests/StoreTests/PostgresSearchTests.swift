import Backends
import Foundation
import Logging
import Recording
import Testing
import TestSupport
@testable import PostgresBackend

/// PostgreSQL searches the newest messages by walking the primary key and the older ones by a
/// parallel scan: the two halves together give the same hits, newest first, as one search would.
@Suite struct PostgresSearchTests {
    @Test func hitsFromTheRecentWindowAndTheOlderScanComeNewestFirst() async throws {
        let url = try #require(try PostgresURL(try TestPostgres.freshDatabaseURL()))
        let store = try await PostgresStore.open(url, forWriting: true, logger: Logger(label: "test"))
        let sessions = (1...4).map { number in
            let info = SessionInfo(kind: .server, decoding: .lab, recorder: "test", clientHost: "127.0.0.1", clientPort: number,
                                   serverHost: "127.0.0.1", serverPort: 7070, startedMicros: Int64(number) * 1_000_000)
            let messages = (1...3).map { seq in
                RecordedMessage(seq: Int64(seq), atMicros: info.startedMicros + Int64(seq), sender: .client,
                                raw: Array("DATA needle \(number).\(seq)\n".utf8), verb: "DATA")
            }
            return (session: CompleteSession(info: info, end: nil, messages: messages), origin: String?.none)
        }
        _ = try await store.write(sessions)
        let everything = try await store.search(SearchPattern(bytes: Array("needle".utf8)), filter: SessionFilter(), limit: 100, context: 0)
        #expect(everything.count == 12)
        // Only the newest two messages are "recent": the rest come from the scan, in the same order.
        store.recentMessages = 2
        for limit in [1, 2, 3, 7, 100] {
            let hits = try await store.search(SearchPattern(bytes: Array("needle".utf8)), filter: SessionFilter(), limit: limit, context: 1)
            #expect(hits.map(\.match.id) == Array(everything.prefix(limit)).map(\.match.id), "limit \(limit)")
        }
        let older = try await store.search(SearchPattern(bytes: Array("needle 1.".utf8)), filter: SessionFilter(), limit: 10, context: 1)
        #expect(older.map { String(decoding: $0.match.raw, as: UTF8.self) } == ["DATA needle 1.3\n", "DATA needle 1.2\n", "DATA needle 1.1\n"])
        #expect(older.first?.context.count == 2)  // the message before it; none after
        let filter = SessionFilter(clientHost: "127.0.0.1", clientPort: 2)
        #expect(try await store.search(SearchPattern(bytes: Array("needle".utf8)), filter: filter, limit: 10, context: 0).count == 3)
        await store.close()
    }
}
