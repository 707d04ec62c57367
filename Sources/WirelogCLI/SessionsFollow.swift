import ArgumentParser
import Foundation
import Presentation
import Recording
import SessionFormats

struct SessionsFollow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "follow",
        abstract: "Print messages as they are recorded, like tail -f.",
        discussion: """
            Starts after the newest message already recorded and polls for new ones until \
            interrupted (Ctrl-C). --client, --kind, --since and --until pick sessions; --verb and \
            --code pick messages. Times: \(TimeSpan.forms).

            Examples:
              wirelog sessions follow
              wirelog sessions follow --client 10.0.0.7 --json
              wirelog sessions follow --verb DATA --max-messages 10
            """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var filters: OpenSessionFilterOptions

    @Option(help: "How often to look for new messages.")
    var interval = TimeSpan(microseconds: 200_000)

    @Option(help: "Stop after printing this many messages.")
    var maxMessages: Int?

    @Option(help: "Stop after this long (exit status 0).")
    var timeout: TimeSpan?

    @Flag(help: "One JSON object per message (NDJSON).")
    var json = false

    func validate() throws {
        guard interval.microseconds > 0 else { throw ValidationError("--interval must be positive") }
        if let maxMessages, maxMessages <= 0 { throw ValidationError("--max-messages must be positive") }
    }

    func run() async throws {
        try await withStore(database) { store in
            let filter = try filters.filter()
            let cursor = try await store.follow()
            var printed = 0
            var sessions: [Int64: SessionSummary] = [:]
            let deadline = timeout.map { WallClock.nowMicros() + $0.microseconds }
            printError("following \(try database.location); Ctrl-C stops")
            while true {
                let batch = try await cursor.next(filter, limit: 1_000)
                for message in batch {
                    let session: SessionSummary
                    if let known = sessions[message.sessionID] {
                        session = known
                    } else {
                        session = try await store.session(message.sessionID)
                        sessions[message.sessionID] = session
                        if !json { Transcript.header(session).prefix(1).forEach { Output.line($0) } }
                    }
                    if json {
                        Output.line(try JSONOutput.line(MessageJSON(message, sessionStartedMicros: session.startedMicros)))
                    } else {
                        Output.line("#\(message.sessionID)" + Transcript().line(message, sessionStartedMicros: session.startedMicros))
                    }
                    printed += 1
                    if let maxMessages, printed >= maxMessages {
                        Output.flush()
                        return
                    }
                }
                Output.flush()
                if let deadline, WallClock.nowMicros() >= deadline { return }
                if batch.count < 1_000 { usleep(useconds_t(min(interval.microseconds, 10_000_000))) }
            }
        }
    }
}
