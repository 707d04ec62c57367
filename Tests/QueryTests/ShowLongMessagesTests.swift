import Backends
import Foundation
import Recording
import Testing
import TestSupport

/// `show` cuts long messages at a readable length (`--full`, `--bytes N`) and pages on a terminal.
@Suite struct ShowLongMessagesTests {
    /// "DATA " and 32,765 × "é" and LF: 65,536 bytes, with a two-byte character across byte 512.
    static let longMessage = Array("DATA ".utf8) + Array(String(repeating: "é", count: 32_765).utf8) + [0x0A]

    /// The fixture plus one session (the newest) holding `longMessage` and its reply.
    private func recordLong(_ backend: TestBackend) async throws -> (QueryFixture, Int64) {
        try await record(backend, [(Self.longMessage, "DATA", "300 DRCV\n")])
    }

    /// The fixture plus one session (the newest) holding these commands, each with its verb and reply.
    private func record(_ backend: TestBackend, _ exchanges: [(command: [UInt8], verb: String, reply: String)]) async throws -> (QueryFixture, Int64) {
        let fixture = try await QueryFixture.record(backend)
        let started = WallClock.nowMicros()
        let info = SessionInfo(kind: .server, decoding: .lab, clientHost: "127.0.0.1", clientPort: 4000,
                               serverHost: "127.0.0.1", serverPort: 7070, startedMicros: started)
        let messages = exchanges.enumerated().flatMap { index, exchange in
            let at = started + Int64(index) * 20
            return [
                RecordedMessage(seq: Int64(2 * index + 1), atMicros: at + 10, sender: .client, raw: exchange.command, verb: exchange.verb),
                RecordedMessage(seq: Int64(2 * index + 2), atMicros: at + 20, sender: .server, raw: Array(exchange.reply.utf8),
                                replyCode: Int(exchange.reply.prefix(3))),
            ]
        }
        let fromClient = exchanges.reduce(0) { $0 + Int64($1.command.count) }
        let fromServer = exchanges.reduce(0) { $0 + Int64($1.reply.utf8.count) }
        let end = SessionEnd(atMicros: started + Int64(exchanges.count) * 20 + 10, reason: .quit, bytesFromClient: fromClient,
                             bytesFromServer: fromServer, messageCount: Int64(messages.count))
        let id = try #require(try await fixture.store.withStore(.modify) {
            try await $0.write([(CompleteSession(info: info, end: end, messages: messages), nil)])
        }.first ?? nil)
        return (fixture, id)
    }

    private func messageLines(_ result: ProcessResult) -> [String] {
        result.stdoutText.split(separator: "\n").map(String.init).filter { $0.contains("  →  ") || $0.contains("  ←  ") }
    }

    @Test(arguments: TestBackend.allCases)
    func aLongMessageIsCutWithANoteOfWhatIsHidden(_ backend: TestBackend) async throws {
        let (fixture, id) = try await recordLong(backend)
        let cut = try fixture.run(["show", String(id)])
        #expect(cut.failure == nil)
        let lines = messageLines(cut)
        #expect(lines.count == 2)
        // 512 bytes would split an "é": the cut backs off to the character's start.
        #expect(lines[0].hasSuffix("DATA " + String(repeating: "é", count: 253) + "  [… 65,025 more bytes: --full shows all]"))
        #expect(lines[0].count < 400)
        #expect(lines[1].hasSuffix("300 DRCV\\n"))

        let full = messageLines(try fixture.run(["show", String(id), "--full"]))
        #expect(full[0].hasSuffix("DATA " + String(repeating: "é", count: 32_765) + "\\n"))

        let eight = messageLines(try fixture.run(["show", String(id), "--bytes", "8"]))
        #expect(eight[0].hasSuffix("DATA é  [… 65,529 more bytes: --full shows all]"))

        let hex = try fixture.run(["show", String(id), "--hex"])
        let hexLines = hex.stdoutText.split(separator: "\n").map(String.init)
        let note = try #require(hexLines.firstIndex { $0.hasSuffix("[… 65,025 more bytes: --full shows all]") })
        let heading = try #require(hexLines.firstIndex { $0.hasSuffix("DATA  65536 bytes") })
        #expect(note - heading == 33)  // 511 bytes: 32 dump lines of 16, then the note

        // Short messages are untouched.
        #expect(try fixture.run(["show", "1"]).stdoutText.contains("→  DATA  DATA hello world\\n\n"))
        let zero = try fixture.run(["show", String(id), "--bytes", "0"])
        #expect(zero.status == 64)
        #expect(zero.stderrText.contains("--bytes must be positive"))
    }

    /// A verb as long as the label column or longer still stands apart from the bytes (two
    /// spaces), so that it does not read as bytes that were sent.
    @Test(arguments: TestBackend.allCases)
    func aLongVerbStandsApartFromTheBytes(_ backend: TestBackend) async throws {
        let (fixture, id) = try await record(backend, [
            (Array("BOGUS\n".utf8), "BOGUS", "400 BCMD\n"), (Array("BOGUSX\n".utf8), "BOGUSX", "400 BCMD\n"),
            (Array("ABCDEFGHIJ rest\n".utf8), "ABCDEFGHIJ", "400 BCMD\n"),
        ])
        let lines = messageLines(try fixture.run(["show", String(id)])).filter { $0.contains("→") }
        #expect(lines.map { String($0.split(separator: "→")[1]) } == [
            "  BOGUS  BOGUS\\n", "  BOGUSX  BOGUSX\\n", "  ABCDEFGHIJ  ABCDEFGHIJ rest\\n",
        ])
    }

    /// Paged through $PAGER on a terminal, plain into a pipe (paging changes nothing stored: one backend).
    @Test func showPagesOnATerminalOnly() async throws {
        let (fixture, id) = try await recordLong(.sqlite)
        let pager = ["PAGER": "sed s/^/paged:/", "TZ": "UTC"]
        let terminal = try TerminalProcess(["sessions", "show", String(id), "--db", fixture.store.argument], environment: pager)
        let screen = try terminal.waitFor("paged:      +0.000s  ←  300   300 DRCV")
        #expect(screen.contains("paged:session \(id)  server"))
        #expect(try terminal.wait() == 0)

        let piped = try WirelogProcess.run(["sessions", "show", String(id), "--db", fixture.store.argument], environment: pager)
        #expect(piped.failure == nil)
        #expect(piped.stdoutText.hasPrefix("session \(id)  server"))
        #expect(!piped.stdoutText.contains("paged:"))
    }
}
