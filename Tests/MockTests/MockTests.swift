import Backends
import Foundation
import Mock
import Recording
import Server
import Testing
import TestSupport

/// `wirelog mock` over real sockets, answering from real stores (SQLite files and PostgreSQL).
@Suite struct MockTests {
    /// The lab's reference client (commands with no terminator, one read per reply) against serve,
    /// then against the mock of that recording: the same bytes, reply by reply.
    @Test(arguments: TestBackend.allCases)
    func labRecordingAnsweredByteForByteToTheReferenceClient(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        let commands = ["HELO", "DATA hello there", "BOGUS", "DATA second", "QUIT"]
        let serve = try await TestServer.start(store: store)
        let served = try await onThread { () throws -> [String] in
            let socket = try TestSocket.connect(port: serve.port)
            return try commands.map { try socket.ask($0) }
        }
        await serve.stop()
        #expect(served == ["100 OK\n", "300 DRCV\n", "400 BCMD\r\nCommand-description: Bad command\r\n", "300 DRCV\n", "200 BYE\n"])

        let mock = try await MockHarness.start(store: store)
        let (mocked, closed) = try await onThread { () throws -> ([String], Bool) in
            let socket = try TestSocket.connect(port: mock.port)
            let replies = try commands.map { try socket.ask($0) }
            return (replies, try socket.receive() == nil)
        }
        await mock.stop()
        #expect(mocked == served)
        #expect(closed, "QUIT was answered with a close, as recorded")

        let recorded = try await store.withStore(.read) { store in
            try await store.messages(ofSession: try #require(try await store.list(SessionFilter(kind: .server), limit: 1).first).id)
        }
        let sessions = try await mock.mockSessions()
        try #require(sessions.count == 1)
        let (summary, messages) = sessions[0]
        #expect(summary.kind == "mock")
        #expect(summary.decoding == "lab")
        #expect(summary.endReason == "quit")
        #expect(messages.map(\.raw) == recorded.map(\.raw))
        #expect(messages.map(\.answeredBy) == recorded.map(\.id), "each message names the recorded one it stands for")
        #expect(messages.filter { $0.sender == .client }.map(\.verb) == ["HELO", "DATA", "BOGUS", "DATA", "QUIT"])
    }

    /// `wirelog client` (LF-terminated commands, DATA and its payload in one write) against the mock
    /// of a recording made with it.
    @Test(arguments: TestBackend.allCases)
    func labRecordingMockedForWirelogClient(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        let input = Array("HELO\nDATA\nsome payload\nNOPE\n".utf8)
        let serve = try await TestServer.start(store: store)
        let served = try WirelogProcess.run(["client", "127.0.0.1:\(serve.port)"], input: input)
        await serve.stop()
        #expect(served.failure == nil)

        let mock = try await MockHarness.start(store: store)
        let mocked = try WirelogProcess.run(["client", "127.0.0.1:\(mock.port)"], input: input)
        await mock.stop()
        #expect(mocked.failure == nil)
        #expect(mocked.stdoutText == served.stdoutText)
        #expect(mocked.stdoutText.contains("300 DRCV"))
        let sessions = try await mock.mockSessions()
        #expect(sessions.count == 1)
        #expect(sessions.first?.messages.allSatisfy { $0.answeredBy != nil } == true)
    }

    /// However the client splits or joins its writes, the same requests get the same replies.
    @Test(arguments: TestBackend.allCases)
    func writesSplitByteByByteOrCoalescedGetTheSameReplies(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        _ = try await Recordings.write([[
            (.client, "SET key value\r\n"), (.server, "+OK\r\n"),
            (.client, "GET key\r\n"), (.server, "$5\r\nvalue\r\n"),
            (.client, "GET keys\r\n"), (.server, "$-1\r\n"),
        ]], to: store)
        let mock = try await MockHarness.start(store: store)
        let requests = Array("SET key value\r\nGET keys\r\nGET key\r\n".utf8)
        let expected = Array("+OK\r\n$-1\r\n$5\r\nvalue\r\n".utf8)
        let (split, coalesced) = try await onThread { () throws -> ([UInt8], [UInt8]) in
            let bytewise = try TestSocket.connect(port: mock.port)
            for byte in requests { try bytewise.send([byte]) }
            let split = try bytewise.receive(exactly: expected.count)
            let together = try TestSocket.connect(port: mock.port)
            try together.send(requests)
            return (split, try together.receive(exactly: expected.count))
        }
        await mock.stop()
        #expect(split == expected)
        #expect(coalesced == expected)
        let sessions = try await mock.mockSessions()
        #expect(sessions.map { $0.messages.filter { $0.sender == .client }.map(\.raw) }
                == Array(repeating: ["SET key value\r\n", "GET keys\r\n", "GET key\r\n"].map { Array($0.utf8) }, count: 2))
    }

    /// `--order any`: the Nth identical request gets the Nth recorded reply (then the last again),
    /// counted per connection.
    @Test(arguments: TestBackend.allCases)
    func nthIdenticalRequestGetsTheNthRecordedReply(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        let increment = "*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n"
        _ = try await Recordings.write([[
            (.client, increment), (.server, ":1\r\n"), (.client, increment), (.server, ":2\r\n"),
        ], [
            (.client, increment), (.server, ":3\r\n"),
        ]], to: store)
        let mock = try await MockHarness.start(store: store)
        let (first, second) = try await onThread { () throws -> ([String], [String]) in
            let one = try TestSocket.connect(port: mock.port)
            let first = try (1...4).map { _ in try one.ask(increment) }
            let two = try TestSocket.connect(port: mock.port)
            return (first, [try two.ask(increment)])
        }
        await mock.stop()
        #expect(first == [":1\r\n", ":2\r\n", ":3\r\n", ":3\r\n"])
        #expect(second == [":1\r\n"])
    }

    /// `--order strict` follows one session turn by turn (connection k: session k mod n), so a
    /// request out of turn is a miss; `--order any` answers it from wherever it was recorded.
    @Test(arguments: TestBackend.allCases)
    func strictFollowsOneSessionWhileAnyAnswersAnyExchange(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        _ = try await Recordings.write([
            [(.client, "A\n"), (.server, "a1\n"), (.client, "B\n"), (.server, "b1\n")],
            [(.client, "B\n"), (.server, "b2\n"), (.client, "A\n"), (.server, "a2\n")],
        ], to: store)

        let strict = try await MockHarness.start(store: store) { $0.order = .strict }
        let (inTurn, secondSession, outOfTurn) = try await onThread { () throws -> ([String], String, [UInt8]) in
            let first = try TestSocket.connect(port: strict.port)
            let inTurn = [try first.ask("A\n"), try first.ask("B\n")]
            let second = try TestSocket.connect(port: strict.port)
            let secondSession = try second.ask("B\n")
            let third = try TestSocket.connect(port: strict.port)
            try third.send(Array("B\n".utf8))
            return (inTurn, secondSession, try third.receiveAll())
        }
        await strict.stop()
        #expect(inTurn == ["a1\n", "b1\n"])
        #expect(secondSession == "b2\n")
        #expect(outOfTurn.isEmpty, "session 1 starts with A: B is a miss, and the default miss closes")

        let any = try await MockHarness.start(store: store)
        let answers = try await onThread { () throws -> [String] in
            let socket = try TestSocket.connect(port: any.port)
            return [try socket.ask("B\n"), try socket.ask("A\n"), try socket.ask("B\n")]
        }
        await any.stop()
        #expect(answers == ["b1\n", "a1\n", "b2\n"])
    }

    /// A server that spoke first speaks first; a recorded close after the last reply is a close.
    @Test(arguments: TestBackend.allCases)
    func serverFirstBannerThenRecordedClose(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        _ = try await Recordings.write([[
            (.server, "220 mail.example ready\r\n"), (.client, "HELO me\r\n"), (.server, "250 hello me\r\n"),
            (.client, "QUIT\r\n"), (.server, "221 bye\r\n"),
        ]], to: store, endReason: .serverClosed)
        let mock = try await MockHarness.start(store: store)
        let (banner, rest) = try await onThread { () throws -> (String, [UInt8]) in
            let socket = try TestSocket.connect(port: mock.port)
            let banner = String(decoding: try socket.receive() ?? [], as: UTF8.self)
            try socket.send(Array("HELO me\r\nQUIT\r\n".utf8))
            return (banner, try socket.receiveAll())
        }
        await mock.stop()
        #expect(banner == "220 mail.example ready\r\n")
        #expect(rest == Array("250 hello me\r\n221 bye\r\n".utf8), "both replies, then the close")
        #expect(try await mock.mockSessions().map(\.summary.endReason) == ["server_closed"])
    }

    /// `--on-miss reply` answers what was not recorded and goes on; the miss is recorded with no
    /// recorded message behind it.
    @Test(arguments: TestBackend.allCases)
    func onMissReplyAnswersAndGoesOn(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        _ = try await Recordings.write([[(.client, "PING\r\n"), (.server, "+PONG\r\n")]], to: store)
        let mock = try await MockHarness.start(store: store) { $0.onMiss = .reply(Array("-ERR not recorded\r\n".utf8)) }
        let answers = try await onThread { () throws -> [String] in
            let socket = try TestSocket.connect(port: mock.port)
            return [try socket.ask("FLUSHALL\r\n"), try socket.ask("PING\r\n")]
        }
        await mock.stop()
        #expect(answers == ["-ERR not recorded\r\n", "+PONG\r\n"])
        let messages = try await mock.mockSessions().first?.messages ?? []
        #expect(messages.map { String(decoding: $0.raw, as: UTF8.self) } == ["FLUSHALL\r\n", "-ERR not recorded\r\n", "PING\r\n", "+PONG\r\n"])
        #expect(messages.map { $0.answeredBy == nil } == [true, true, false, false])
    }

    /// `--ignore` masks volatile parts of requests, as replay masks replies.
    @Test(arguments: TestBackend.allCases)
    func ignoredStretchesOfRequestsDoNotMatter(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        _ = try await Recordings.write([[(.client, "GET /item?ts=1700000000\n"), (.server, "item\n")]], to: store)
        let mock = try await MockHarness.start(store: store) {
            try $0.mask([#"ts=\d+"#])
            $0.framing = .line
        }
        let answer = try await onThread { () throws -> String in
            try TestSocket.connect(port: mock.port).ask("GET /item?ts=1800000000123\n")
        }
        await mock.stop()
        #expect(answer == "item\n")
    }

    /// A hundred clients at once, each answered byte for byte; each conversation is recorded.
    @Test(arguments: TestBackend.allCases)
    func hundredConcurrentConnections(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        _ = try await Recordings.write([[
            (.client, "HELO\n"), (.server, "100 OK\n"), (.client, "DATA x\n"), (.server, "300 DRCV\n"),
            (.client, "QUIT\n"), (.server, "200 BYE\n"),
        ]], to: store, decoding: .lab, endReason: .quit)
        let mock = try await MockHarness.start(store: store)
        let port = mock.port
        let replies = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<100 {
                group.addTask {
                    try await onThread {
                        let socket = try TestSocket.connect(port: port)
                        try socket.send(Array("HELO\nDATA x\nQUIT\n".utf8))
                        return try socket.receiveAll()
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        await mock.stop()
        #expect(replies.count == 100)
        #expect(replies.allSatisfy { $0 == Array("100 OK\n300 DRCV\n200 BYE\n".utf8) })
        let sessions = try await mock.mockSessions()
        #expect(sessions.count == 100)
        #expect(sessions.allSatisfy { $0.summary.endReason == "quit" && $0.messages.count == 6 })
    }

    /// Over --max-connections the client of a lab recording gets serve's 503 BUSY line, then a close.
    @Test(arguments: TestBackend.allCases)
    func overTheConnectionLimitALabClientGetsBusy(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        _ = try await Recordings.write([[(.client, "HELO\n"), (.server, "100 OK\n")]], to: store, decoding: .lab)
        let mock = try await MockHarness.start(store: store) { $0.maxConnections = 1 }
        let (first, refused) = try await onThread { () throws -> (String, [UInt8]) in
            let holder = try TestSocket.connect(port: mock.port)
            let first = try holder.ask("HELO\n")
            return (first, try TestSocket.connect(port: mock.port).receiveAll())
        }
        await mock.stop()
        #expect(first == "100 OK\n")
        #expect(refused == Array("503 BUSY too many connections (limit 1), try again later\n".utf8))
        #expect(try await mock.mockSessions().compactMap(\.summary.endReason).sorted() == ["client_closed", "refused"])
    }

    /// A client that pipelines requests and never reads the replies is stopped being read: the
    /// flood stalls after a few MiB instead of being buffered, and other clients are still answered.
    @Test func aClientThatNeverReadsIsNotBufferedForWithoutBound() async throws {
        let directory = TemporaryDirectory()
        let store = try TestBackend.sqlite.freshStore(in: directory)
        _ = try await Recordings.write([[(.client, "PING\r\n"), (.server, "+PONG\r\n")]], to: store)
        let mock = try await MockHarness.start(store: store, record: false)
        let (flooded, answer) = try await onThread { () throws -> (Int, String) in
            let flooder = try RawSocket(port: mock.port)
            let requests = Array(String(repeating: "PING\r\n", count: 10_000).utf8)
            let flooded = flooder.flood(requests, limit: 256 << 20, stallTime: 2)
            return (flooded, try TestSocket.connect(port: mock.port).ask("PING\r\n"))
        }
        await mock.stop()
        #expect(flooded < 64 << 20, "sent \(flooded) bytes before the mock stopped reading")
        #expect(answer == "+PONG\r\n")
    }
}
