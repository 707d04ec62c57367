import Replay
import Store
import Testing
import TestSupport

@Suite struct SessionSelectionTests {
    /// Three sessions: server at t0, proxy at t0+10s, replay at t0+20s (from another client).
    private func database() throws -> (TemporaryDirectory, RecordedSessionReader, Int64) {
        let dir = TemporaryDirectory()
        let path = dir.file("select.sqlite")
        let t0: Int64 = 1_700_000_000_000_000
        _ = try recordSession(into: path, kind: .server, decoding: .lab, startedMicros: t0, messages: [(.client, "HELO\n", 1)])
        _ = try recordSession(into: path, kind: .proxy, startedMicros: t0 + 10_000_000, messages: [(.client, "PING\r\n", 1)])
        _ = try recordSession(into: path, kind: .replay, startedMicros: t0 + 20_000_000, messages: [])
        return (dir, RecordedSessionReader(database: try Store.openForReading(path: path)), t0)
    }

    @Test func idsAreReplayedInTheOrderGiven() throws {
        let (_, reader, _) = try database()
        var selection = SessionSelection()
        selection.ids = [3, 1]
        #expect(try reader.resolve(selection) == [3, 1])
    }

    @Test func aMissingIdIsAnError() throws {
        let (_, reader, _) = try database()
        var selection = SessionSelection()
        selection.ids = [1, 9, 12]
        #expect(throws: SelectionError.noSuchSessions([9, 12])) { try reader.resolve(selection) }
        #expect(SelectionError.noSuchSessions([9]).description == "no session 9 in the database")
    }

    @Test func filtersSelectOldestFirstAndLimitKeepsTheNewest() throws {
        let (_, reader, t0) = try database()
        var selection = SessionSelection()
        selection.filter.sinceMicros = t0 + 5_000_000
        #expect(try reader.resolve(selection) == [2, 3])
        selection.filter.untilMicros = t0 + 15_000_000
        #expect(try reader.resolve(selection) == [2])

        var byKind = SessionSelection()
        byKind.filter.kind = .server
        #expect(try reader.resolve(byKind) == [1])

        var newest = SessionSelection()
        newest.limit = 2
        #expect(try reader.resolve(newest) == [2, 3])

        var byClient = SessionSelection()
        byClient.filter.clientHost = "127.0.0.1"
        byClient.filter.clientPort = 40_000
        #expect(try reader.resolve(byClient) == [1, 2, 3])
        byClient.filter.clientPort = 1
        #expect(throws: SelectionError.nothingMatches) { try reader.resolve(byClient) }
    }

    @Test func idsAndFiltersMustBothHold() throws {
        let (_, reader, _) = try database()
        var selection = SessionSelection()
        selection.ids = [1, 2, 3]
        selection.filter.kind = .proxy
        #expect(try reader.resolve(selection) == [2])
        selection.ids = [1]
        #expect(throws: SelectionError.nothingMatches) { try reader.resolve(selection) }
    }

    @Test func aSessionIsReadBackWithItsMessagesInOrder() throws {
        let (_, reader, t0) = try database()
        let session = try #require(try reader.session(2))
        #expect(session.info.kind == .proxy)
        #expect(session.info.startedMicros == t0 + 10_000_000)
        #expect(session.endReason == "client_closed")
        #expect(session.messages.map(\.raw) == [Array("PING\r\n".utf8)])
        #expect(try reader.session(99) == nil)
    }
}
