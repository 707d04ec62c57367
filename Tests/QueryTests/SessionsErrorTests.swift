import Backends
import Foundation
import Migrations
import Recording
import SQLiteBackend
import Testing
import TestSupport

/// Every failure is one line on standard error, nothing on standard output, and a non-zero exit.
@Suite struct SessionsErrorTests {
    private func expectOneLineError(_ result: ProcessResult, status: Int32, containing text: String,
                                    sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == status, "\(result.stderrText)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, sourceLocation: sourceLocation)
        #expect(result.stderrText.hasPrefix("wirelog: "), sourceLocation: sourceLocation)
        #expect(result.stderrText.filter { $0 == "\n" }.count == 1, "\(result.stderrText)", sourceLocation: sourceLocation)
        #expect(result.stderrText.contains(text), "\(result.stderrText)", sourceLocation: sourceLocation)
    }

    /// SQLite: no file there (and none is made); PostgreSQL: a database without wirelog's schema
    /// (and none is made, not even by prune).
    @Test(arguments: TestBackend.allCases)
    func aStoreWithoutRecordingsIsNamedAndNotCreated(_ backend: TestBackend) throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir, name: "nothing")
        let said = backend == .sqlite ? "no database at \(store)" : "\(store) holds no wirelog recordings yet"
        // follow waits for such a store instead (SessionsLiveTests).
        for arguments in [["list"], ["show", "1"], ["stats"], ["search", "x"], ["export", "1"],
                          ["prune", "--older-than", "1d"]] {
            expectOneLineError(try QueryFixture.sessions(arguments, db: store.argument), status: 2, containing: said)
        }
        switch store {
        case .sqlite(let path): #expect(!FileManager.default.fileExists(atPath: path))
        case .postgres: #expect(try TestPostgres.psql(store.argument, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func storesThatAreNotWirelogsAreRefused(_ backend: TestBackend) throws {
        let dir = TemporaryDirectory()
        let other = try backend.freshStore(in: dir, name: "other")
        switch other {
        case .sqlite(let path):
            let text = dir.file("notes.txt")
            try Data("just some text, long enough to not be a database header".utf8).write(to: URL(fileURLWithPath: text))
            expectOneLineError(try QueryFixture.sessions(["list"], db: text), status: 2, containing: "is not a SQLite database")
            try Database(path: path, mode: .readWrite).execute("CREATE TABLE t (x)")
        case .postgres:
            try TestPostgres.psql(other.argument, "CREATE TABLE t (x integer)")
        }
        let said = backend == .sqlite ? "not a wirelog one" : "holds other tables but no wirelog schema"
        expectOneLineError(try QueryFixture.sessions(["list"], db: other.argument), status: 2, containing: said)
        expectOneLineError(try QueryFixture.sessions(["prune", "--older-than", "1d"], db: other.argument), status: 2, containing: said)
    }

    @Test(arguments: TestBackend.allCases)
    func aSchemaNewerThanTheBinaryIsRefused(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir, name: "future")
        switch store {
        case .sqlite(let path):
            let later = try #require(Migration(fileName: "0099_later_feature.sql", bytes: Array("CREATE TABLE later (id INTEGER);".utf8)))
            _ = try SQLiteFile.openForWriting(path: path, migrator: Migrator(migrations: Migration.embedded(.sqlite) + [later]))
        case .postgres:
            try await store.withStore(.create) { _ in }
            try TestPostgres.psql(store.argument, "INSERT INTO wirelog_migrations VALUES (99, 'later_feature', 'x', 0)")
        }
        expectOneLineError(try QueryFixture.sessions(["list"], db: store.argument), status: 2, containing: "newer than this wirelog knows")
    }

    @Test(arguments: TestBackend.allCases)
    func badArgumentsGetOneClearLine(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        expectOneLineError(try fixture.run(["show", "99"]), status: 1, containing: "no session 99")
        expectOneLineError(try fixture.run(["list", "--since", "yesterday"]), status: 2, containing: "cannot read 'yesterday' as a time")
        expectOneLineError(try fixture.run(["stats", "--until", "2026-13-01"]), status: 2, containing: "cannot read '2026-13-01'")
        expectOneLineError(try fixture.run(["prune", "--before", "soon"]), status: 2, containing: "cannot read 'soon'")
        expectOneLineError(try fixture.run(["list", "--kind", "robot"]), status: 2, containing: "unknown --kind 'robot'")
        expectOneLineError(try fixture.run(["list", "--reason", "bored"]), status: 2, containing: "unknown --reason 'bored'")
        expectOneLineError(try fixture.run(["search", "\\q"]), status: 2, containing: "cannot read the search text")
        expectOneLineError(try fixture.run(["search", "\\x4"]), status: 2, containing: "cannot read the search text")
        expectOneLineError(try fixture.run(["export", "1", "-o", fixture.dir.file("no/such/dir/x.json")]), status: 2,
                           containing: "cannot write")
    }

    @Test func aDatabasePathThatCannotBeAFileIsRefusedInOneLine() throws {
        let dir = TemporaryDirectory()
        for command in [["sessions", "list"], ["serve", "--listen", "127.0.0.1:0"]] {
            let directory = try WirelogProcess.run(command + ["--db", dir.path])
            expectOneLineError(directory, status: 2, containing: "--db \(dir.path) is a directory")
            let memory = try WirelogProcess.run(command + ["--db", ":memory:"])
            expectOneLineError(memory, status: 2, containing: "--db must name a file: ':memory:'")
            expectOneLineError(try WirelogProcess.run(command + ["--db", ""]), status: 2, containing: "--db must name a file (it is empty)")
        }
        #expect(!FileManager.default.fileExists(atPath: ":memory:"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    /// A file in a directory that does not exist: the directory is named, with what to do, and
    /// nothing is created (a recorder would otherwise fail on SQLite's "cannot open").
    @Test func aDatabaseInAMissingDirectorySaysToCreateIt() throws {
        let dir = TemporaryDirectory()
        let missing = dir.file("not-yet")
        for command in [["sessions", "list"], ["serve", "--listen", "127.0.0.1:0"], ["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9"]] {
            expectOneLineError(try WirelogProcess.run(command + ["--db", missing + "/x.sqlite"]), status: 2,
                               containing: "the directory \(missing) does not exist; create it first (mkdir -p \(missing))")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    /// A `%` in a URL's password must start an escape: one that does not is an error, never a
    /// password silently left out (and the password is not shown).
    @Test func aStrayPercentInAPostgresURLIsRefused() throws {
        for (url, part) in [("postgres://me:se%zzcret@127.0.0.1:9/db", "password"), ("postgres://m%e:secret@127.0.0.1:9/db", "user name"),
                            ("postgres://me:secret%@127.0.0.1:9/db", "password"), ("postgres://me@127.0.0.1:9/d%b", "host, port or database name")] {
            let result = try WirelogProcess.run(["sessions", "list", "--db", url])
            expectOneLineError(result, status: 2, containing: "the \(part) has a % that is not followed by two hex digits (write a % as %25)")
            #expect(!result.stderrText.contains("secret"), "\(result.stderrText)")
        }
    }

    /// A negative number is a value the command explains, not a missing one.
    @Test func aNegativeNumberIsRefusedForWhatItIs() throws {
        for (arguments, said) in [(["sessions", "list", "--limit", "-1"], "--limit cannot be negative (0 shows all)"),
                                  (["sessions", "search", "x", "--context", "-2"], "--context cannot be negative"),
                                  (["serve", "--max-line", "-5"], "--max-line must be positive")] {
            let result = try WirelogProcess.run(arguments + ["--db", "never.sqlite"])
            #expect(result.status == 64)
            #expect(result.stderrText.contains(said), "\(arguments): \(result.stderrText)")
            #expect(!result.stderrText.contains("Missing value"), "\(arguments): \(result.stderrText)")
        }
    }

    @Test func followOffersOnlyTheFiltersItHonours() throws {
        let follow = try WirelogProcess.run(["sessions", "follow", "--help"]).stdoutText
        #expect(!follow.contains("--reason"), "\(follow)")
        #expect(follow.contains("--client"))
        #expect(try WirelogProcess.run(["sessions", "list", "--help"]).stdoutText.contains("--reason"))
    }

    @Test func everyCommandsHelpShowsAnExample() throws {
        for command in ["list", "show", "search", "stats", "export", "follow", "prune"] {
            let help = try WirelogProcess.run(["sessions", command, "--help"])
            #expect(help.failure == nil)
            #expect(help.stdoutText.contains("Examples:\n  wirelog sessions \(command)"), "\(command): \(help.stdoutText)")
        }
        let populate = try WirelogProcess.run(["bench", "populate", "--help"])
        #expect(populate.stdoutText.contains("Examples:\n  wirelog bench populate"))
        #expect(try WirelogProcess.run(["sessions", "--help"]).stdoutText.contains("Examples:"))
    }
}

/// SQLite only: SQLite's query plans and its parallel search, on a populated file: indexes, never
/// a full scan of messages, for the time, client, kind, reason, verb, code and session lookups.
@Suite struct QueryPlanTests {
    @Test func filtersUseIndexes() async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("populated.sqlite")
        let populate = try WirelogProcess.run(["bench", "populate", "--sessions", "2000", "--db", path])
        #expect(populate.failure == nil)
        #expect(populate.stdoutText.hasPrefix("added 2000 sessions and 20000 messages"))
        #expect(try RecordedRows.integrityCheck(path) == "ok")

        let queries = SessionQueries(database: try SQLiteFile.openForReading(path: path))
        let now = WallClock.nowMicros()
        let day: Int64 = 86_400_000_000
        let sessionFilters: [(String, SessionFilter)] = [
            ("none", SessionFilter()),
            ("since", SessionFilter(sinceMicros: now - day)),
            ("until", SessionFilter(untilMicros: now - day)),
            ("range", SessionFilter(sinceMicros: now - 2 * day, untilMicros: now - day)),
            ("client host", SessionFilter(clientHost: "10.0.0.1")),
            ("client host and port", SessionFilter(clientHost: "10.0.0.1", clientPort: 4000)),
            ("kind", SessionFilter(kind: .proxy)),
            ("reason", SessionFilter(endReason: "idle_timeout")),
            ("open", SessionFilter(endReason: "open")),
        ]
        let deepPosition = SessionListPosition(startedMicros: now - day, id: 1_000)
        for (name, filter) in sessionFilters {
            for before in [nil, deepPosition] {
                let plan = try queries.listPlan(filter, before: before)
                #expect(!plan.contains { isFullScan($0) }, "list \(name): \(plan)")
                #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "list \(name) sorts: \(plan)")
                #expect(plan.contains { $0.contains("USING INDEX") || $0.contains("USING COVERING INDEX") }, "list \(name): \(plan)")
            }
        }
        for (name, filter) in [("verb", SessionFilter(verb: "STAT")), ("code", SessionFilter(replyCode: 400))] {
            let plan = try queries.listPlan(filter)
            #expect(!plan.contains { isFullScan($0) || $0.contains("TEMP B-TREE") }, "list \(name): \(plan)")
            #expect(plan.contains { $0.contains("session_verbs") || $0.contains("session_reply_codes") }, "list \(name): \(plan)")
        }
        // A session's spans in order, each read as a range of message ids; SQLite orders the
        // messages of one span (at most 256) by id, never the whole session.
        let show = try queries.showPlan()
        #expect(!show.contains { isFullScan($0) || $0.contains("TEMP B-TREE FOR ORDER BY") }, "show: \(show)")
        #expect(show.contains { $0.contains("SEARCH m_span USING PRIMARY KEY") }, "show: \(show)")
        #expect(show.contains { $0.contains("INTEGER PRIMARY KEY (rowid>? AND rowid<?)") }, "show: \(show)")
        // Stats reads each block of sessions once: it collects the distinct spans of the chosen
        // blocks, then reads each as a range of message ids.
        let stats = try queries.statsPlan(SessionFilter(sinceMicros: now - day))
        #expect(!stats.contains { isFullScan($0) || $0.contains("TEMP B-TREE FOR ORDER BY") }, "stats: \(stats)")
        #expect(stats.contains { $0.contains("SEARCH sp USING PRIMARY KEY") }, "stats: \(stats)")
        let search = try queries.searchPlan(Array("x".utf8), filter: SessionFilter(sinceMicros: now - day))
        #expect(!search.contains { isFullScan($0) }, "search --since: \(search)")
        let follow = try queries.followPlan(SessionFilter(clientHost: "10.0.0.1"))
        #expect(!follow.contains { isFullScan($0) || $0.contains("TEMP B-TREE") }, "follow: \(follow)")

        // The same answers through the indexes as by brute force over the rows.
        let rows = try await RecordedRows.sessions(path)
        let proxies = try queries.list(SessionFilter(kind: .proxy), limit: 10_000).map(\.id)
        #expect(Set(proxies) == Set(rows.filter { $0.kind == "proxy" }.map(\.id)))
        let withStat = Set(try await RecordedRows.messages(path).filter { $0.verb == "STAT" }.map(\.sessionID))
        #expect(Set(try queries.list(SessionFilter(verb: "STAT"), limit: 10_000).map(\.id)) == withStat)
        #expect(try queries.list(SessionFilter(verb: "STAT"), limit: 7).count == 7)

        // Keyset pages, one after the other, are the whole list in the same order.
        for filter in [SessionFilter(), SessionFilter(kind: .proxy), SessionFilter(verb: "STAT")] {
            let whole = try queries.list(filter, limit: 10_000).map(\.id)
            var paged: [Int64] = []
            var position: SessionListPosition?
            while true {
                let page = try queries.list(filter, limit: 97, before: position)
                paged += page.map(\.id)
                guard let last = page.last, page.count == 97 else { break }
                position = SessionListPosition(after: last)
            }
            #expect(paged == whole, "\(filter)")
        }
    }

    @Test func aSearchSplitAcrossConnectionsFindsWhatBruteForceFinds() async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("large.sqlite")
        // Over 100,000 messages: the search without a session filter runs in parallel id ranges.
        let populate = try WirelogProcess.run(["bench", "populate", "--sessions", "10010", "--db", path], timeout: 120)
        #expect(populate.failure == nil)
        let queries = SessionQueries(database: try SQLiteFile.openForReading(path: path))
        let needle = Array("HELO again".utf8)
        let expected = try await RecordedRows.messages(path).enumerated()
            .filter { $0.element.raw.starts(with: needle) }
            .map { $0.offset + 1 }  // messages were inserted in this order, so ids are 1, 2, 3…
            .reversed()
        #expect(expected.count > 100)
        let all = try queries.search(SearchPattern(bytes: needle), filter: SessionFilter(), limit: 1_000_000, context: 0)
        #expect(all.map { Int($0.match.id) } == Array(expected))
        let newest = try queries.search(SearchPattern(bytes: needle), filter: SessionFilter(), limit: 5, context: 0)
        #expect(newest.map { Int($0.match.id) } == Array(expected.prefix(5)))
    }

    /// `SCAN m` / `SCAN messages` is a pass over every message, through an index or not.
    private func isFullScan(_ step: String) -> Bool {
        step.hasPrefix("SCAN m ") || step == "SCAN m" || step.hasPrefix("SCAN messages")
    }
}
