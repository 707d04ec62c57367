import Backends
import Foundation
import Recording
import Testing
import TestSupport

/// `list` says what it left out and shows replays; `search` has grep's exit status, `-i` and `--regex`.
@Suite struct ListAndSearchTests {
    private func lines(_ result: ProcessResult) -> [String] {
        result.stdoutText.split(separator: "\n").map(String.init)
    }

    @Test(arguments: TestBackend.allCases)
    func listSaysHowManyMoreSessionsThereAreAndLimitZeroShowsAll(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let two = try fixture.run(["list", "--limit", "2"])
        #expect(two.failure == nil)
        #expect(lines(two).count == 4)
        #expect(lines(two).last == "… 1 more session; --limit N or --limit 0 for all")

        // Exactly the limit, or everything: no such line.
        #expect(lines(try fixture.run(["list", "--limit", "3"])).count == 4)
        #expect(lines(try fixture.run(["list"])).count == 4)
        let all = try fixture.run(["list", "--limit", "0"])
        #expect(all.failure == nil)
        #expect(lines(all).dropFirst().map { $0.split(separator: " ").first } == ["3", "2", "1"])

        // With a verb filter the order (and so the count after the page) is by session id.
        let helo = try fixture.run(["list", "--verb", "HELO", "--limit", "1"])
        #expect(lines(helo).dropFirst().first?.split(separator: " ").first == "3")
        #expect(lines(helo).last == "… 1 more session; --limit N or --limit 0 for all")

        let oneOfAll = try fixture.run(["list", "--limit", "1"])
        #expect(lines(oneOfAll).last == "… 2 more sessions; --limit N or --limit 0 for all")

        let negative = try fixture.run(["list", "--limit=-1"])
        #expect(negative.status == 64)
        #expect(negative.stderrText.contains("--limit cannot be negative"))
    }

    @Test(arguments: TestBackend.allCases)
    func countingStopsAtItsBoundAndFollowsTheListOrder(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        try await fixture.store.withStore(.read) { store in
            #expect(try await store.countSessions(SessionFilter(), before: nil, upTo: 10) == 3)
            #expect(try await store.countSessions(SessionFilter(), before: nil, upTo: 2) == 2)
            let newest = try #require(try await store.list(SessionFilter(), limit: 1).first)
            #expect(try await store.countSessions(SessionFilter(), before: SessionListPosition(after: newest), upTo: 10) == 2)
            let heloFilter = SessionFilter(verb: "HELO")
            let firstHELO = try #require(try await store.list(heloFilter, limit: 1).first)
            #expect(try await store.countSessions(heloFilter, before: SessionListPosition(after: firstHELO), upTo: 10) == 1)
            #expect(try await store.countSessions(SessionFilter(endReason: "quit"), before: nil, upTo: 10) == 1)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func listShowsWhichSessionAReplayReplayed(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let started = WallClock.nowMicros()
        let info = SessionInfo(kind: .replay, decoding: .lab, clientHost: "127.0.0.1", clientPort: 4000,
                               serverHost: "127.0.0.1", serverPort: 7070, startedMicros: started, replayOf: 1)
        let end = SessionEnd(atMicros: started + 30, reason: .clientClosed, bytesFromClient: 0, bytesFromServer: 0, messageCount: 0)
        let replayID = try #require(try await fixture.store.withStore(.modify) {
            try await $0.write([(CompleteSession(info: info, end: end, messages: []), nil)])
        }.first ?? nil)

        let result = try fixture.run(["list"])
        #expect(result.failure == nil)
        let table = lines(result)
        #expect(table[0].hasSuffix("end reason     replay of"))
        let replayRow = try #require(table.first { $0.split(separator: " ").first == "\(replayID)" }, "\(table)")
        #expect(replayRow.split(separator: " ").suffix(2) == ["client_closed", "1"])
        // Sessions that are not replays leave the column blank.
        #expect(table.filter { $0.hasSuffix("quit") || $0.hasSuffix("client_closed") }.count == 3)

        let json = try #require(try fixture.run(["list", "--json"]).json() as? [[String: Any]])
        #expect(json.first { $0["id"] as? Int == Int(replayID) }?["replay_of"] as? Int == 1)
    }

    @Test(arguments: TestBackend.allCases)
    func searchExitsOneWhenNothingMatchesAsGrepDoes(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let none = try fixture.run(["search", "no such bytes"])
        #expect(none.status == 1)
        #expect(none.stdoutText == "no message contains that text\n")
        let noneJSON = try fixture.run(["search", "no such bytes", "--json"])
        #expect(noneJSON.status == 1)
        #expect(noneJSON.stdout.isEmpty)
        #expect(try fixture.run(["search", "hello"]).failure == nil)
        #expect(try fixture.run(["search", "HELO", "--limit", "0", "--json"]).jsonLines().count == 2)
    }

    @Test(arguments: TestBackend.allCases)
    func searchIgnoresCaseAndTakesRegularExpressionsOverBytes(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        func sessionsOfMatches(_ arguments: [String]) throws -> [Int] {
            let result = try fixture.run(["search"] + arguments + ["--json"])
            #expect(result.status < 2, "\(arguments): \(result.stderrText)")
            return try result.jsonLines().compactMap { ($0["session"] as? [String: Any])?["id"] as? Int }
        }
        #expect(try sessionsOfMatches(["HELLO WORLD"]) == [])
        #expect(try sessionsOfMatches(["-i", "HELLO WORLD"]) == [1])
        #expect(try sessionsOfMatches(["--ignore-case", "helo"]) == [3, 1])
        #expect(try sessionsOfMatches(["-i", "\\x1B[31MRED"]) == [2])

        #expect(try sessionsOfMatches(["--regex", "^HELO$"]) == [3, 1])
        #expect(try sessionsOfMatches(["--regex", "DATA h.llo w"]) == [1])
        #expect(try sessionsOfMatches(["--regex", "[0-9]{3} DRCV"]) == [2, 1])
        #expect(try sessionsOfMatches(["--regex", "-i", "^data \\x1b"]) == [2])
        // Binary-safe: NUL, invalid UTF-8 and a lone escape byte, each matched as one byte.
        #expect(try sessionsOfMatches(["--regex", "m\\x00\\xff.\\r"]) == [2])
        #expect(try sessionsOfMatches(["--regex", "\\x00\\xff\\xfe"]) == [2])
        // With filters: the verb picks the message, --since the sessions.
        #expect(try sessionsOfMatches(["--regex", ".", "--verb", "FOO"]) == [2])
        #expect(try sessionsOfMatches(["--regex", "hello", "--since", "1h", "--client", "127.0.0.1"]) == [1])
        #expect(try fixture.run(["search", "--regex", "^QUIT", "--context", "1"]).stdoutText.contains(">"))

        let broken = try fixture.run(["search", "--regex", "("])
        #expect(broken.status == 2)
        #expect(broken.stderrText.hasPrefix("wirelog: cannot read the regular expression '('"))
        #expect(broken.stderrText.split(separator: "\n").count == 1)
    }

    /// More messages than one page of the scan: every match found, newest first, on both backends.
    @Test(arguments: TestBackend.allCases)
    func aRegexSearchReadsEveryPage(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory("wirelog-regex-pages")
        let store = try backend.freshStore(in: dir)
        let started = WallClock.nowMicros()
        let messages = (1...2_500).map {
            RecordedMessage(seq: Int64($0), atMicros: started + Int64($0), sender: .client, raw: Array("DATA \($0)\n".utf8), verb: "DATA")
        }
        let end = SessionEnd(atMicros: started + 3_000, reason: .quit, bytesFromClient: 0, bytesFromServer: 0, messageCount: 2_500)
        let info = SessionInfo(kind: .server, decoding: .lab, clientHost: "127.0.0.1", clientPort: 4000,
                               serverHost: "127.0.0.1", serverPort: 7070, startedMicros: started)
        _ = try await store.withStore(.create) { try await $0.write([(CompleteSession(info: info, end: end, messages: messages), nil)]) }
        try await store.withStore(.read) { store in
            let sevens = try await store.search(try SearchPattern(regex: "^DATA [0-9]*7$"), filter: SessionFilter(), limit: .max, context: 0)
            #expect(sevens.map(\.match.seq) == stride(from: 2_497, through: 7, by: -10).map(Int64.init))
            let some = try await store.search(SearchPattern(bytes: Array("data 1".utf8), ignoringCase: true),
                                              filter: SessionFilter(), limit: 3, context: 0)
            #expect(some.map(\.match.seq) == [1_999, 1_998, 1_997])
        }
    }
}
