import ArgumentParser

struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Record the traffic between any client and any server (issue 3).")

    func run() async throws {
        printError("wirelog proxy is not built yet")
        throw ExitCode(2)
    }
}
