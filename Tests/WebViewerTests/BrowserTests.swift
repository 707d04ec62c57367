import Backends
import Foundation
import Testing
import TestSupport

/// The viewer in a real browser: a running `wirelog serve --web` and headless Chromium, driven by
/// browser/viewer_in_chromium.py through WebDriver (Debian's chromium, chromium-driver and
/// python3-selenium; `.ci/run` installs them), with an http and a resp session written into its store
/// as the proxy records them. The screenshots land in docs/ when WIRELOG_SCREENSHOTS names that folder.
@Suite(.serialized) struct BrowserTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("browser/viewer_in_chromium.py").path

    @Test func theViewerWorksInChromium() async throws {
        let dir = TemporaryDirectory("wirelog-browser")
        // A recorder name with a bidi override and ESC: the list must show it escaped.
        let serve = try WirelogProcess(["serve", "--listen", "127.0.0.1:0", "--web", "127.0.0.1:0", "--recorder-name", "lab\u{202E}1\u{1B}",
                                        "--db", dir.file("lab.sqlite")])
        defer { serve.signal(SIGKILL) }
        let labPort = try serve.listeningPort()
        let log = try serve.waitForStderr(containing: "web viewer on http://")
        let viewer = try #require(log.range(of: #"web viewer on (http://\S+)"#, options: .regularExpression)
            .map { String(log[$0].dropFirst("web viewer on ".count)) })
        #expect(!log.contains("Server started"), "one line says where the viewer is, wirelog's own: \(log)")
        let decoded = try await DecodedFixture.write(into: .sqlite(path: dir.file("lab.sqlite")))

        let shots = ProcessInfo.processInfo.environment["WIRELOG_SCREENSHOTS"] ?? dir.path
        let browser = Process()
        browser.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        browser.arguments = [Self.script, viewer, String(labPort), shots, String(decoded.http), String(decoded.resp)]
        let output = Pipe()
        browser.standardOutput = output
        browser.standardError = output
        try browser.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        browser.waitUntilExit()
        // On a failure, serve's log goes with the browser's account of the page.
        #expect(browser.terminationStatus == 0, "\(text)\nserve's log:\n\(serve.stderrText)")
        #expect(text.contains("0 failed"), "\(text)")
    }
}
