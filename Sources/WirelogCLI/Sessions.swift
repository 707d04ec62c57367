import ArgumentParser

struct Sessions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "List, show, search and export recorded sessions (issue 4).")

    func run() async throws {
        printError("wirelog sessions is not built yet")
        throw ExitCode(2)
    }
}
