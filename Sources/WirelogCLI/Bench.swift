import ArgumentParser

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load generator (issue 6).", subcommands: [BenchPopulate.self])

    func run() async throws {
        printError("wirelog bench is not built yet")
        throw ExitCode(2)
    }
}
