import ArgumentParser
import Bench
import Foundation
import Recording

struct BenchPopulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "populate",
        abstract: "Fill a database with synthetic lab sessions (for query benchmarks).",
        discussion: """
            Appends to the database (created if missing). Start times are spread evenly over the \
            last --days days; the same --seed gives the same data.

            Examples:
              wirelog bench populate --sessions 1000000 --db big.sqlite
              wirelog bench populate --sessions 1 --messages-per-session 10000 --days 0.01 --db big.sqlite
            """)

    @OptionGroup var database: DatabaseOptions

    @Option(parsing: .unconditional, help: "How many sessions to add.")
    var sessions: Int

    @Option(parsing: .unconditional, help: "Messages in each session (commands and replies).")
    var messagesPerSession = 10

    @Option(help: "Spread session starts over this many days, ending now.")
    var days = 30.0

    @Option(parsing: .unconditional, help: "Distinct client addresses.")
    var clients = 5_000

    @Option(help: "Seed of the generator.")
    var seed: UInt64 = 1

    func validate() throws {
        guard sessions > 0 else { throw ValidationError("--sessions must be positive") }
        guard messagesPerSession > 0 else { throw ValidationError("--messages-per-session must be positive") }
        guard days >= 0, days.isFinite else { throw ValidationError("--days cannot be negative") }
        guard clients > 0 else { throw ValidationError("--clients must be positive") }
    }

    func run() async throws {
        try await withStore(database, .create) { store in
            let started = Date()
            let populate = Populate(sessions: sessions, messagesPerSession: messagesPerSession, days: days,
                                    clients: clients, seed: seed)
            var lastReport = Date()
            let result = try await populate.run(into: store) { written in
                if Date().timeIntervalSince(lastReport) >= 5 {
                    lastReport = Date()
                    printError("\(written) of \(sessions) sessions written")
                }
            }
            let seconds = Date().timeIntervalSince(started)
            Output.line(String(format: "added %ld sessions and %ld messages to %@ in %.1fs (%.0f messages/s)",
                               result.sessions, result.messages, database.text, seconds, Double(result.messages) / max(seconds, 0.001)))
        }
    }
}
