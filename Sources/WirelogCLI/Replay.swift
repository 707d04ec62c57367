import ArgumentParser

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay recorded sessions against a server and report differences (issue 5).")

    func run() async throws {
        printError("wirelog replay is not built yet")
        throw ExitCode(2)
    }
}
