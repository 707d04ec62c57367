import Foundation
import Recording
import SQLiteBackend
import Testing
import TestSupport

/// `wirelog sessions …` run as a program against a database the real server recorded.
@Suite struct SessionsCommandTests {
    @Test(arguments: TestBackend.allCases)
    func listShowsEverySessionNewestFirstInAnAlignedTable(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let result = try fixture.run(["list"])
        #expect(result.failure == nil)
        let lines = result.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        let header = lines[0]
        for title in ["id", "start", "duration", "kind", "client → server", "messages", "bytes", "end reason"] {
            #expect(header.contains(title))
        }
        #expect(lines.dropFirst().map { $0.split(separator: " ").first } == ["3", "2", "1"])
        // Aligned: the "kind" column starts at the same offset in every line.
        let kindColumn = try #require(header.range(of: "kind")).lowerBound.utf16Offset(in: header)
        for line in lines.dropFirst() {
            #expect(String(line.utf16.dropFirst(kindColumn).prefix(6)) == "server")
        }
        let first = fixture.sessions[0]
        #expect(lines[3].contains("127.0.0.1:\(first.clientPort) → 127.0.0.1:\(first.serverPort)"))
        #expect(lines[3].contains(RelativeTimeExpectation.utcTimestamp(first.startedMicros)))
        #expect(lines[3].hasSuffix("quit"))
        #expect(lines[2].hasSuffix("client_closed"))
        #expect(lines[3].contains("  6  ") && lines[3].contains("  \(first.bytesFromClient + first.bytesFromServer)  "))
    }

    @Test(arguments: TestBackend.allCases)
    func everyListFilterSelectsTheRightSessions(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let firstPort = fixture.sessions[0].clientPort
        let now = Date()
        func ids(_ arguments: [String]) throws -> [Int64] {
            let result = try fixture.run(["list", "--json"] + arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderrText)")
            let sessions = try #require(try result.json() as? [[String: Any]])
            return sessions.map { ($0["id"] as? NSNumber)?.int64Value ?? -1 }
        }
        let iso = ISO8601DateFormatter()
        #expect(try ids([]) == [3, 2, 1])
        #expect(try ids(["--limit", "2"]) == [3, 2])
        #expect(try ids(["--since", "1h"]) == [3, 2, 1])
        #expect(try ids(["--until", "1h"]) == [])
        #expect(try ids(["--since", iso.string(from: now.addingTimeInterval(3600))]) == [])
        #expect(try ids(["--until", iso.string(from: now.addingTimeInterval(3600))]) == [3, 2, 1])
        #expect(try ids(["--client", "127.0.0.1"]) == [3, 2, 1])
        #expect(try ids(["--client", "127.0.0.1:\(firstPort)"]) == [1])
        #expect(try ids(["--client", "10.9.9.9"]) == [])
        #expect(try ids(["--kind", "server"]) == [3, 2, 1])
        #expect(try ids(["--kind", "proxy"]) == [])
        #expect(try ids(["--verb", "DATA"]) == [2, 1])
        #expect(try ids(["--verb", "data"]) == [2, 1])  // verbs match in any case
        #expect(try ids(["--verb", "HELO"]) == [3, 1])
        #expect(try ids(["--verb", "FOO"]) == [2])
        #expect(try ids(["--code", "400"]) == [2])
        #expect(try ids(["--code", "300", "--verb", "HELO"]) == [1])
        #expect(try ids(["--reason", "quit"]) == [1])
        #expect(try ids(["--reason", "client_closed"]) == [3, 2])
        #expect(try ids(["--reason", "open"]) == [])
    }

    @Test(arguments: TestBackend.allCases)
    func listSaysSoWhenNothingMatches(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let result = try fixture.run(["list", "--kind", "replay"])
        #expect(result.failure == nil)
        #expect(result.stdoutText == "no sessions match\n")
    }

    @Test(arguments: TestBackend.allCases)
    func showPrintsTheTranscriptWithRelativeTimesArrowsAndCodes(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let result = try fixture.run(["show", "1"])
        #expect(result.failure == nil)
        let lines = result.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0].hasPrefix("session 1  server  127.0.0.1:"))
        #expect(lines[1].contains("quit") && lines[1].contains("6 messages"))
        let transcript = lines.dropFirst(3).filter { !$0.isEmpty }
        #expect(transcript.count == 6)
        #expect(transcript[0].hasSuffix("→  HELO  HELO\\n"))
        #expect(transcript[1].hasSuffix("←  100   100 OK\\n"))
        #expect(transcript[2].hasSuffix("→  DATA  DATA hello world\\n"))
        #expect(transcript[5].hasSuffix("←  200   200 BYE\\n"))
        // Times relative to the session start, as recorded.
        let start = fixture.sessions[0].startedMicros
        for (line, message) in zip(transcript, fixture.messages(ofSession: 1)) {
            let offset = message.atMicros - start
            #expect(line.trimmingCharacters(in: .whitespaces).hasPrefix("+\(offset / 1_000_000).\(String(format: "%03lld", (offset / 1_000) % 1_000))s"))
        }
    }

    @Test(arguments: TestBackend.allCases)
    func showEscapesHostileBytesSoTheTerminalNeverSeesThem(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        for arguments in [["show", "2"], ["show", "2", "--absolute"], ["search", "red"], ["list"]] {
            let result = try fixture.run(arguments)
            #expect(result.failure == nil)
            #expect(!result.stdout.contains(0x1B), "\(arguments) printed a raw ESC")
            #expect(!result.stdout.contains(0x00), "\(arguments) printed a raw NUL")
            #expect(!result.stdout.contains(0x0D), "\(arguments) printed a raw CR")
            #expect(String(validating: result.stdout, as: UTF8.self) != nil)
        }
        let show = try fixture.run(["show", "2"]).stdoutText
        #expect(show.contains("DATA \\x1b[31mred\\x1b[0m\\x00\\xff\\xfe\\r\\n"))
        #expect(show.contains("400   400 BCMD\\r\\nCommand-description: Bad command\\r\\n"))
    }

    @Test(arguments: TestBackend.allCases)
    func showAbsoluteUsesWallClockTimes(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let result = try fixture.run(["show", "1", "--absolute"])
        let first = try #require(fixture.messages(ofSession: 1).first)
        #expect(result.stdoutText.contains(RelativeTimeExpectation.utcTimestamp(first.atMicros, micros: true) + "Z  →  HELO"))
    }

    /// Every time a person reads carries its zone: `Z` in UTC, the offset elsewhere.
    @Test(arguments: TestBackend.allCases)
    func everyTimeForPeopleCarriesItsZone(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let started = fixture.sessions[0].startedMicros
        let utc = RelativeTimeExpectation.utcTimestamp(started)
        #expect(try fixture.run(["list"]).stdoutText.contains(utc + "Z "))
        #expect(try fixture.run(["show", "1"]).stdoutText.contains("started " + RelativeTimeExpectation.utcTimestamp(started, micros: true).dropLast(3) + "Z"))
        let india = try WirelogProcess.run(["sessions", "list", "--db", fixture.store.argument], environment: ["TZ": "Asia/Kolkata"])
        let local = RelativeTimeExpectation.utcTimestamp(started + 19_800_000_000)
        #expect(india.stdoutText.contains(local + "+05:30 "), "\(india.stdoutText)")
        let prune = try fixture.run(["prune", "--before", "2020-01-01T00:00:00Z"])
        #expect(prune.stdoutText.contains("that started before 2020-01-01 00:00:00Z"), "\(prune.stdoutText)")
        #expect(prune.stdoutText.contains("removed 0 sessions and 0 messages"))
    }

    @Test(arguments: TestBackend.allCases)
    func exportRefusesAnExistingFileUnlessForcedAndWritesMode0600(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let path = fixture.dir.file("existing.json")
        #expect(FileManager.default.createFile(atPath: path, contents: Data("keep me".utf8), attributes: [.posixPermissions: 0o644]))
        let refused = try fixture.run(["export", "1", "-o", path])
        #expect(refused.status == 2)
        #expect(refused.stderrText.contains("\(path) exists; pass --force"), "\(refused.stderrText)")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep me")

        let forced = try fixture.run(["export", "1", "-o", path, "--force"])
        #expect(forced.failure == nil)
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("[{"))
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)

        let fresh = fixture.dir.file("fresh.pcap")
        #expect(try fixture.run(["export", "1", "--format", "pcap", "-o", fresh]).failure == nil)
        #expect(try FileManager.default.attributesOfItem(atPath: fresh)[.posixPermissions] as? Int == 0o600)
    }

    @Test(arguments: TestBackend.allCases)
    func countsAndDurationsReadAsPeopleWriteThem(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let show = try fixture.run(["show", "1"]).stdoutText
        #expect(show.contains("; 6 messages, "))
        let stats = try fixture.run(["stats", "--client", "127.0.0.1:\(fixture.sessions[0].clientPort)"]).stdoutText
        #expect(stats.hasPrefix("1 session, 6 messages\n"), "\(stats)")
        // One unit style: µs, never us.
        let list = try fixture.run(["list"]).stdoutText
        #expect(!list.contains("us ") && !stats.contains("us "), "\(list)\n\(stats)")
    }

    @Test(arguments: TestBackend.allCases)
    func showHexDumpsEveryByte(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let result = try fixture.run(["show", "2", "--hex"])
        #expect(result.failure == nil)
        #expect(result.stdoutText.contains("0000  44 41 54 41 20 1b 5b 33  31 6d 72 65 64 1b 5b 30  DATA .[31mred.[0"))
        #expect(result.stdoutText.contains("0010  6d 00 ff fe 0d 0a"))
        #expect(!result.stdout.contains(0x1B))
    }

    @Test(arguments: TestBackend.allCases)
    func showJSONCarriesTheExactBytesInBase64(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let result = try fixture.run(["show", "2", "--json"])
        #expect(result.failure == nil)
        let document = try #require(try result.json() as? [String: Any])
        #expect(document["id"] as? Int == 2)
        #expect(document["end_reason"] as? String == "client_closed")
        let messages = try #require(document["messages"] as? [[String: Any]])
        let recorded = fixture.messages(ofSession: 2)
        #expect(messages.count == recorded.count)
        for (json, row) in zip(messages, recorded) {
            #expect(base64Bytes(json["raw"]) == row.raw)
            #expect(json["sender"] as? String == row.sender)
            #expect((json["at_us"] as? NSNumber)?.int64Value == row.atMicros)
        }
        #expect(base64Bytes(messages[0]["payload"]) == QueryFixture.hostilePayload)
        #expect(messages[3]["reply_code"] as? Int == 400)
    }

    @Test(arguments: TestBackend.allCases)
    func searchFindsBytesAndShowsTheMatchInContext(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let hello = try fixture.run(["search", "hello world"])
        #expect(hello.failure == nil)
        let lines = hello.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("session 1 "))
        let match = try #require(lines.firstIndex { $0.hasPrefix(">") })
        #expect(lines[match].hasSuffix("DATA hello world\\n"))
        #expect(lines[match - 1].hasSuffix("100 OK\\n") && lines[match + 1].hasSuffix("300 DRCV\\n"))
        #expect(hello.stdoutText.contains("1 match"))

        // Binary-safe: escape sequences, NUL and invalid UTF-8, written the way show prints them.
        for needle in ["\\x1b[31m", "\\x00\\xff", "\\xfe\\r\\n", "m\\x00"] {
            let result = try fixture.run(["search", needle, "--json"])
            let hits = try result.jsonLines()
            #expect(hits.count == 1, "\(needle)")
            #expect((hits.first?["session"] as? [String: Any])?["id"] as? Int == 2)
            #expect(base64Bytes((hits.first?["match"] as? [String: Any])?["payload"]) == QueryFixture.hostilePayload)
        }
        #expect(try fixture.run(["search", "\\r\\n", "--json"]).jsonLines().count == 2)  // the DATA and the 400 reply
        #expect(try fixture.run(["search", "HELO", "--json"]).jsonLines().count == 2)
        #expect(try fixture.run(["search", "HELO", "--json", "--limit", "1"]).jsonLines().count == 1)
        #expect(try fixture.run(["search", "O", "--verb", "helo", "--json"]).jsonLines().count == 2)
        #expect(try fixture.run(["search", "BCMD", "--code", "400", "--json"]).jsonLines().count == 1)
        #expect(try fixture.run(["search", "hello", "--verb", "HELO", "--json"]).jsonLines().isEmpty)
        #expect(try fixture.run(["search", "hello", "--until", "1h", "--json"]).jsonLines().isEmpty)
        #expect(try fixture.run(["search", "hello", "--since", "1h", "--client", "127.0.0.1", "--json"]).jsonLines().count == 1)
        #expect(try fixture.run(["search", "no such bytes"]).stdoutText == "no message contains that text\n")
    }

    @Test(arguments: TestBackend.allCases)
    func statsCountsVerbsCodesReasonsLatencyAndClients(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let result = try fixture.run(["stats", "--json"])
        #expect(result.failure == nil)
        let stats = try #require(try result.json() as? [String: Any])
        func counts(_ key: String) -> [String: Int] {
            var table: [String: Int] = [:]
            for entry in stats[key] as? [[String: Any]] ?? [] {
                table[entry["key"] as? String ?? "(none)"] = entry["count"] as? Int
            }
            return table
        }
        #expect(stats["sessions"] as? Int == 3)
        #expect(stats["messages"] as? Int == fixture.messages.count)
        #expect(counts("by_verb") == ["HELO": 2, "DATA": 2, "QUIT": 1, "FOO": 1])
        #expect(counts("by_reply_code") == ["100": 2, "300": 2, "200": 1, "400": 1])
        #expect(counts("by_end_reason") == ["quit": 1, "client_closed": 2])

        // Latency: each command paired with the next reply, computed here from the rows.
        var expected: [Int64] = []
        for session in fixture.sessions {
            var waiting: [Int64] = []
            for message in fixture.messages(ofSession: session.id) {
                if message.sender == "client" { waiting.append(message.atMicros) } else {
                    expected += waiting.map { message.atMicros - $0 }
                    waiting.removeAll()
                }
            }
        }
        let latency = try #require(stats["latency"] as? [String: Any])
        #expect(latency["count"] as? Int == 6)
        #expect((latency["max_us"] as? NSNumber)?.int64Value == expected.max())
        let clients = try #require(stats["busiest_clients"] as? [[String: Any]])
        #expect(clients.count == 1 && clients[0]["host"] as? String == "127.0.0.1" && clients[0]["sessions"] as? Int == 3)

        let text = try fixture.run(["stats"]).stdoutText
        #expect(text.hasPrefix("3 sessions, \(fixture.messages.count) messages\n"))
        #expect(text.contains("command → reply latency") && text.contains("p99"))
        #expect(try fixture.run(["stats", "--until", "1h", "--json"]).json() as? [String: Any] != nil)
        let empty = try #require(try fixture.run(["stats", "--until", "1h", "--json"]).json() as? [String: Any])
        #expect(empty["sessions"] as? Int == 0 && empty["latency"] == nil)
    }

    @Test(arguments: TestBackend.allCases)
    func exportWritesJSONAndNDJSONThatParse(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let file = fixture.dir.file("out.json")
        let json = try fixture.run(["export", "1", "2", "--format", "json", "-o", file])
        #expect(json.failure == nil)
        let documents = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [[String: Any]])
        #expect(documents.map { $0["id"] as? Int } == [1, 2])
        let rawOfSecond = (documents[1]["messages"] as? [[String: Any]] ?? []).map { base64Bytes($0["raw"]) ?? [] }
        #expect(rawOfSecond == fixture.messages(ofSession: 2).map(\.raw))

        let ndjson = try fixture.run(["export", "3", "--format", "ndjson"])
        let lines = try ndjson.jsonLines()
        #expect(lines.map { $0["type"] as? String } == ["session", "message", "message"])
        #expect(lines[1]["session"] as? Int == 3 && base64Bytes(lines[1]["raw"]) == Array("HELO\n".utf8))
    }

    @Test(arguments: TestBackend.allCases)
    func exportPcapReadsBackInTsharkAsTheRecordedBytes(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let tshark = try #require(["/usr/bin/tshark", "/usr/local/bin/tshark"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                  "tshark is needed (apt-get install tshark)")
        let file = fixture.dir.file("s.pcap")
        let export = try fixture.run(["export", "1", "2", "--format", "pcap", "-o", file])
        #expect(export.failure == nil)
        for (stream, session) in [(0, Int64(1)), (1, Int64(2))] {
            let follow = try runTool(tshark, ["-r", file, "-qz", "follow,tcp,raw,\(stream)"])
            #expect(follow.status == 0, "\(follow.stderr)")
            var fromClient: [UInt8] = [], fromServer: [UInt8] = []
            // Client data lines start at the margin, server lines with a tab.
            for line in follow.stdout.split(separator: "\n") where line.allSatisfy({ $0.isHexDigit || $0 == "\t" }) && !line.isEmpty {
                let bytes = hexBytes(line.trimmingCharacters(in: .whitespaces))
                if line.hasPrefix("\t") { fromServer += bytes } else { fromClient += bytes }
            }
            let rows = fixture.messages(ofSession: session)
            #expect(fromClient == rows.filter { $0.sender == "client" }.flatMap(\.raw))
            #expect(fromServer == rows.filter { $0.sender == "server" }.flatMap(\.raw))
        }
        // Checksums verified (status 1 is "good"), and no TCP anomaly (retransmission, lost segment…).
        let problems = try runTool(tshark, ["-r", file, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
                                            "-Y", "tcp.checksum.status != 1 || ip.checksum.status != 1 || tcp.analysis.flags"])
        #expect(problems.status == 0, "\(problems.stderr)")
        #expect(problems.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(problems.stdout)")
        let summary = try runTool(tshark, ["-r", file, "-T", "fields", "-e", "frame.time_epoch", "-c", "1"])
        let firstTime = try #require(Double(summary.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(Int64((firstTime * 1_000_000).rounded()) == fixture.sessions[0].startedMicros)
    }

    @Test(arguments: TestBackend.allCases)
    func pcapToATerminalOrAMissingSessionWritesNothing(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let file = fixture.dir.file("none.pcap")
        let result = try fixture.run(["export", "1", "99", "--format", "pcap", "-o", file])
        #expect(result.status == 1)
        #expect(result.stderrText == "wirelog: no session 99 in this store (wirelog sessions list shows the ids)\n")
        #expect(!FileManager.default.fileExists(atPath: file))
    }
}

/// Expected renderings computed independently of the code under test (TZ=UTC).
enum RelativeTimeExpectation {
    static func utcTimestamp(_ micros: Int64, micros withMicros: Bool = false) -> String {
        let formatter = DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        let seconds = micros / 1_000_000
        let text = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        return withMicros ? text + "." + String(format: "%06lld", micros % 1_000_000) : text
    }
}

func hexBytes(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while let next = text.index(index, offsetBy: 2, limitedBy: text.endIndex), index != text.endIndex {
        bytes.append(UInt8(text[index..<next], radix: 16) ?? 0)
        index = next
    }
    return bytes
}

/// Runs a third-party tool to completion (bounded) and captures its output.
func runTool(_ path: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("tool-\(UUID().uuidString).out")
    let err = FileManager.default.temporaryDirectory.appendingPathComponent("tool-\(UUID().uuidString).err")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    defer {
        try? FileManager.default.removeItem(at: out)
        try? FileManager.default.removeItem(at: err)
    }
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
        throw ProcessError.timedOut("\(path) \(arguments)")
    }
    return (process.terminationStatus, try String(contentsOf: out, encoding: .utf8), try String(contentsOf: err, encoding: .utf8))
}
