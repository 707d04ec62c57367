import Replay
import Backends
import Recording
import Testing
import TestSupport

@Suite struct SessionSelectionTests {
    /// Three sessions: server at t0, proxy at t0+10s, replay at t0+20s (from another client).
    private func database(_ backend: TestBackend) async throws -> (TemporaryDirectory, any RecordingStore, Int64) {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir, name: "select")
        let t0: Int64 = 1_700_000_000_000_000
        _ = try await recordSession(into: store, kind: .server, decoding: .lab, startedMicros: t0, messages: [(.client, "HELO\n", 1)])
        _ = try await recordSession(into: store, kind: .proxy, startedMicros: t0 + 10_000_000, messages: [(.client, "PING\r\n", 1)])
        _ = try await recordSession(into: store, kind: .replay, startedMicros: t0 + 20_000_000, messages: [])
        return (dir, try await store.openStore(.read), t0)
    }

    @Test(arguments: TestBackend.allCases)
    func idsAreReplayedInTheOrderGiven(_ backend: TestBackend) async throws {
        let (_, reader, _) = try await database(backend)
        var selection = SessionSelection()
        selection.ids = [3, 1]
        #expect(try await selection.resolve(in: reader) == [3, 1])
    }

    @Test(arguments: TestBackend.allCases)
    func aMissingIdIsAnError(_ backend: TestBackend) async throws {
        let (_, reader, _) = try await database(backend)
        var selection = SessionSelection()
        selection.ids = [1, 9, 12]
        await #expect(throws: SelectionError.noSuchSessions([9, 12])) { try await selection.resolve(in: reader) }
        #expect(SelectionError.noSuchSessions([9]).description == "no session 9 in the store")
    }

    @Test(arguments: TestBackend.allCases)
    func filtersSelectOldestFirstAndLimitKeepsTheNewest(_ backend: TestBackend) async throws {
        let (_, reader, t0) = try await database(backend)
        var selection = SessionSelection()
        selection.filter.sinceMicros = t0 + 5_000_000
        #expect(try await selection.resolve(in: reader) == [2, 3])
        selection.filter.untilMicros = t0 + 15_000_000
        #expect(try await selection.resolve(in: reader) == [2])

        var byKind = SessionSelection()
        byKind.filter.kind = .server
        #expect(try await byKind.resolve(in: reader) == [1])

        var newest = SessionSelection()
        newest.limit = 2
        #expect(try await newest.resolve(in: reader) == [2, 3])

        var byClient = SessionSelection()
        byClient.filter.clientHost = "127.0.0.1"
        byClient.filter.clientPort = 40_000
        #expect(try await byClient.resolve(in: reader) == [1, 2, 3])
        byClient.filter.clientPort = 1
        await #expect(throws: SelectionError.nothingMatches) { try await byClient.resolve(in: reader) }
    }

    @Test(arguments: TestBackend.allCases)
    func idsAndFiltersMustBothHold(_ backend: TestBackend) async throws {
        let (_, reader, _) = try await database(backend)
        var selection = SessionSelection()
        selection.ids = [1, 2, 3]
        selection.filter.kind = .proxy
        #expect(try await selection.resolve(in: reader) == [2])
        selection.ids = [1]
        await #expect(throws: SelectionError.nothingMatches) { try await selection.resolve(in: reader) }
    }

    @Test(arguments: TestBackend.allCases)
    func aSessionIsReadBackWithItsMessagesInOrder(_ backend: TestBackend) async throws {
        let (_, reader, t0) = try await database(backend)
        let session = try #require(try await reader.completeSession(2))
        #expect(session.info.kind == .proxy)
        #expect(session.info.startedMicros == t0 + 10_000_000)
        #expect(session.endReason == "client_closed")
        #expect(session.messages.map(\.raw) == [Array("PING\r\n".utf8)])
        #expect(try await reader.completeSession(99) == nil)
    }
}
