import Foundation
import Testing
import TestSupport

/// `wirelog web` and `serve --web` as a person runs them: the token's sources, --help, the start-up log.
@Suite(.serialized) struct WebCommandTests {
    static let token = "0123456789abcdef0123456789abcdef"

    /// The viewer's port from the line saying where it listens.
    static func viewerPort(_ process: WirelogProcess) throws -> Int {
        let log = try process.waitForStderr(containing: "web viewer on http://")
        let address = try #require(log.range(of: #"web viewer on http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression).map { log[$0] })
        return try #require(Int(address.split(separator: ":").last ?? ""))
    }

    @Test func helpOffersTheTokenFileAndTheEnvironmentBeforeTheArgument() throws {
        let help = try WirelogProcess.run(["web", "--help"]).stdoutText
        let file = try #require(help.range(of: "--token-file <file>"))
        let argument = try #require(help.range(of: "--token <token>"))
        #expect(file.lowerBound < argument.lowerBound, "\(help)")
        #expect(help.contains("WIRELOG_WEB_TOKEN"))
        #expect(!help.contains("--token \""), "no example puts the token in the arguments: \(help)")
        #expect(!help.contains("record into"), "web only reads: \(help)")
    }

    @Test func aShortTokenIsRefusedAndATokenFileIsRead() async throws {
        let fixture = try await WebFixture.record(.sqlite)
        let database = fixture.dir.file("recorded.sqlite")
        let short = try WirelogProcess.run(["web", "--listen", "127.0.0.1:0", "--token", "x", "--db", database])
        #expect(short.status != 0)
        #expect(short.stderrText.contains("the web token has 1 characters; it needs at least 16"), "\(short.stderrText)")
        let blank = try WirelogProcess.run(["web", "--listen", "127.0.0.1:0", "--db", database], environment: ["WIRELOG_WEB_TOKEN": "    "])
        #expect(blank.stderrText.contains("the web token may hold only letters, digits"), "\(blank.stderrText)")
        let missing = try WirelogProcess.run(["web", "--listen", "127.0.0.1:0", "--token-file", fixture.dir.file("none"), "--db", database])
        #expect(missing.status != 0 && missing.stderrText.contains("cannot read it: no such file or directory"), "\(missing.stderrText)")
        let emptyFile = fixture.dir.file("empty.token")
        try Data("\n".utf8).write(to: URL(fileURLWithPath: emptyFile))
        let empty = try WirelogProcess.run(["web", "--listen", "0.0.0.0:0", "--token-file", emptyFile, "--db", database])
        #expect(empty.status != 0 && empty.stderrText.contains("its first line is empty"), "\(empty.stderrText)")

        let tokenFile = fixture.dir.file("web.token")
        try Data((Self.token + "\n").utf8).write(to: URL(fileURLWithPath: tokenFile))
        let web = try WirelogProcess(["web", "--listen", "127.0.0.1:0", "--token-file", tokenFile, "--db", database])
        defer { web.signal(SIGKILL) }
        let port = try Self.viewerPort(web)
        #expect(try ViewerLimitsTests.get(port: port, "/api/sessions", host: "localhost").status == 401)
        #expect(try ViewerLimitsTests.get(port: port, "/api/sessions", host: "localhost", headers: ["Authorization: Bearer \(Self.token)"]).status == 200)
    }

    @Test func theRecorderNameReachesTheLogEscaped() throws {
        let dir = TemporaryDirectory("wirelog-web")
        let serve = try WirelogProcess(["serve", "--listen", "127.0.0.1:0", "--recorder-name", "lab\u{1B}]0;owned\u{07}\u{202E}1", "--db", dir.file("lab.sqlite")])
        defer { serve.signal(SIGKILL) }
        let log = try serve.waitForStderr(containing: "as recorder")
        #expect(log.contains("as recorder 'lab\\x1b]0;owned\\x07\\xe2\\x80\\xae1'"), "\(log)")
        #expect(!log.contains("\u{1B}") && !log.contains("\u{07}") && !log.contains("\u{202E}"))
    }
}
