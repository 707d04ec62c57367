import Backends
import Client
import Foundation
import Logging
import Recording
import Testing
import TestSupport
@testable import WebViewer

/// The feed behind every event stream of a viewer, watched directly, while a real server records
/// into a real store (both backends): one read of the store per update, the same update for every
/// watcher, open sessions' counters kept from the messages read.
@Suite(.serialized, .timeLimit(.minutes(2))) struct LiveFeedTests {
    /// Reads `updates` until one shows session `id` (any session with nil) as `done` wants it.
    static func session(_ id: Int64?, in updates: AsyncStream<LiveUpdate>,
                        _ done: @escaping @Sendable (SessionSummary) -> Bool) async -> SessionSummary? {
        for await update in updates {
            if let change = update.changes.first(where: { (id == nil || $0.session.id == id) && done($0.session) }) {
                return change.session
            }
        }
        return nil
    }

    /// What each of `streams` shows of session `id` once `done` holds for it.
    static func everyWatcher(_ streams: [AsyncStream<LiveUpdate>], _ id: Int64?,
                             _ done: @escaping @Sendable (SessionSummary) -> Bool) async -> [SessionSummary?] {
        await withTaskGroup(of: SessionSummary?.self) { group in
            for stream in streams { group.addTask { await session(id, in: stream, done) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    static func send(_ connection: LabConnection, _ commands: [String]) async throws {
        for command in commands {
            try await connection.send(Array(command.utf8))
            _ = try await connection.readReply()
        }
    }

    @Test(arguments: TestBackend.allCases)
    func everyWatcherGetsEachUpdateWithTheCountersTheStoreGives(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory("wirelog-feed")
        let location = try backend.freshStore(in: dir)
        let server = try await TestServer.start(store: location)
        let feed = LiveFeed(store: ViewerStore { try await location.openStore(.read) }, logger: Logger(label: "feed-test"))
        var lists: [AsyncStream<LiveUpdate>] = []
        for _ in 0..<20 { lists.append(try await feed.watch(since: nil).updates) }
        let reader = try await location.openStore(.read)

        // Once every watcher has seen the session with its greeting, the feed follows it open:
        // what it shows from then on it counted from the messages it read.
        let connection = try await WebFixture.connect(port: server.port, ["HELO\n"])
        let greeted = await Self.everyWatcher(lists, nil) { $0.messageCount == 2 }
        let id = try #require(greeted.first??.id)
        #expect(greeted.allSatisfy { $0?.id == id })
        let page = try await feed.watch(since: nil, session: id).updates

        let other = try await WebFixture.connect(port: server.port, ["HELO\n"])
        try await Self.send(connection, ["DATA one\n", "DATA two two\n", "DATA \(String(repeating: "x", count: 3_000))\n"])
        let grown = await Self.everyWatcher(lists, id) { $0.messageCount == 8 }
        let stored = try await reader.session(id)
        #expect(stored.messageCount == 8 && stored.endedMicros == nil)
        #expect(grown.allSatisfy { $0 == stored }, "the store says \(stored)")

        // A session page's updates carry its session's messages, and no other session's.
        var pageMessages: [StoredMessage] = []
        for await update in page {
            #expect(Set(update.messages.keys).isSubset(of: [id]))
            pageMessages += update.messages[id] ?? []
            if pageMessages.last?.seq == 8 { break }
        }
        #expect(pageMessages.map(\.seq) == Array(3...8))

        try await Self.send(connection, ["QUIT\n"])
        await connection.close()
        let ended = await Self.everyWatcher(lists, id) { $0.endReason != nil }
        let storedEnd = try await reader.session(id)
        #expect(storedEnd.endReason == "quit" && storedEnd.messageCount == 10)
        #expect(ended.allSatisfy { $0 == storedEnd })

        await other.close()
        await server.stop()
        await reader.close()
    }

    /// Sessions open before a feed starts following are counted by the store, the open sessions of
    /// a block together; sessions that begin while it follows are read without counting (their
    /// first message is in the update), and it counts them itself.
    @Test(arguments: TestBackend.allCases)
    func sessionsOpenBeforeFollowingShowTheStoresCounters(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory("wirelog-feed")
        let location = try backend.freshStore(in: dir)
        let server = try await TestServer.start(store: location)
        let viewerStore = ViewerStore { try await location.openStore(.read) }
        let reader = try await location.openStore(.read)

        // The first feed shows when every command is committed.
        let first = try await LiveFeed(store: viewerStore, logger: Logger(label: "feed-test")).watch(since: nil).updates
        var connections: [LabConnection] = []
        for extra in 0..<3 {
            connections.append(try await WebFixture.connect(port: server.port, ["HELO\n"] + Array(repeating: "DATA \(extra)\n", count: extra)))
        }
        try await WebFixture.converse(port: server.port, ["HELO\n", "QUIT\n"])
        var committed: [Int64: Int64] = [:]
        for await update in first {
            for change in update.changes { committed[change.session.id] = change.session.messageCount }
            if committed.values.sorted() == [2, 4, 4, 6] { break }
        }
        let ids = committed.keys.sorted()
        let openIDs = Array(ids.prefix(3))

        // The store's answer for them, counting or not, with an id that does not exist.
        let counted = try await reader.sessions(ids + [ids.last! + 1_000], countingOpen: true)
        var oneByOne: [SessionSummary] = []
        for id in ids { oneByOne.append(try await reader.session(id)) }
        #expect(counted == oneByOne)
        let rows = try await reader.sessions(ids, countingOpen: false)
        #expect(rows.map(\.id) == ids)
        #expect(rows.prefix(3).allSatisfy { $0.messageCount == 0 && $0.bytesFromClient == 0 && $0.endedMicros == nil })
        #expect(rows.last == counted.last, "an ended session's row holds its counters")

        // A second feed follows from now: the open sessions' next messages bring them in with all they hold.
        let second = try await LiveFeed(store: viewerStore, logger: Logger(label: "feed-test")).watch(since: nil).updates
        for connection in connections { try await Self.send(connection, ["DATA more\n"]) }
        let late = try await WebFixture.connect(port: server.port, ["HELO\n"])
        var seen: [Int64: SessionSummary] = [:]
        for await update in second {
            for change in update.changes { seen[change.session.id] = change.session }
            if openIDs.allSatisfy({ seen[$0]?.messageCount ?? 0 >= (committed[$0] ?? 0) + 2 }) && seen.count == 4 { break }
        }
        for id in openIDs { #expect(seen[id] == (try await reader.session(id))) }
        let lateID = try #require(seen.keys.first { !ids.contains($0) })
        #expect(seen[lateID] == (try await reader.session(lateID)))

        for connection in connections + [late] { await connection.close() }
        await server.stop()
        await reader.close()
    }

    /// What the feed reads: a follow cursor's facts are its messages less their bytes, a message
    /// large enough for a SQLite segment file included.
    @Test(arguments: TestBackend.allCases)
    func aFollowCursorsFactsAreItsMessagesWithoutTheirBytes(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory("wirelog-feed")
        let location = try backend.freshStore(in: dir)
        let server = try await TestServer.start(store: location)
        let reader = try await location.openStore(.read)
        let whole = try await reader.follow()
        let facts = try await reader.follow()
        try await WebFixture.converse(port: server.port, ["HELO\n", "DATA \(String(repeating: "y", count: 10_000))\n", "DATA z\n", "QUIT\n"])
        _ = try await endedSessions(location, count: 1)

        var messages: [StoredMessage] = []
        var read: [MessageFacts] = []
        let deadline = ContinuousClock.now + .seconds(20)
        // On PostgreSQL a cursor learns of commits from notifications, which may come a little after.
        while messages.count < 8 || read.count < 8, ContinuousClock.now < deadline {
            messages += try await whole.next(SessionFilter(), limit: 100)
            read += try await facts.nextFacts(SessionFilter(), limit: 100)
            if messages.count < 8 || read.count < 8 { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(messages.count == 8 && messages[2].raw.count == 10_006)
        #expect(read == messages.map {
            MessageFacts(id: $0.id, sessionID: $0.sessionID, seq: $0.seq, sender: $0.sender, byteCount: Int64($0.raw.count),
                         verb: $0.verb, replyCode: $0.replyCode)
        })
        await server.stop()
        await reader.close()
    }
}

