import ArgumentParser
import LabProtocol
import Presentation
import Recording
import SessionFormats

struct SessionsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List sessions, newest first.",
        discussion: """
            Examples:
              wirelog sessions list
              wirelog sessions list --since 15m --kind proxy
              wirelog sessions list --client 127.0.0.1:51234 --json
              wirelog sessions list --verb DATA --code 400 --limit 10
            """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var filters: SessionFilterOptions

    @Option(help: "Most sessions to show.")
    var limit = 50

    @Flag(help: "One JSON array of sessions instead of the table.")
    var json = false

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be positive") }
    }

    func run() async throws {
        try await withStore(database) { store in
            let sessions = try await store.list(try filters.filter(), limit: limit)
            if json {
                Output.line(try JSONOutput.line(sessions.map { SessionJSON($0) }))
            } else if sessions.isEmpty {
                Output.line("no sessions match")
            } else {
                Output.line(Self.table(sessions))
            }
        }
    }

    static func table(_ sessions: [SessionSummary]) -> String {
        var table = TableFormatter([
            .right("id"), .left("start"), .right("duration"), .left("kind"), .left("recorder"), .left("client → server"),
            .right("messages"), .right("bytes"), .left("end reason"),
        ])
        for session in sessions {
            table.append([
                String(session.id),
                RelativeTime.localTimestamp(session.startedMicros),
                session.endedMicros.map { DurationText.micros($0 - session.startedMicros) } ?? "-",
                Escaping.escape(Array(session.kind.utf8)),
                Escaping.escape(Array(session.recorder.utf8)),
                "\(EndpointText.of(session.clientHost, session.clientPort)) → \(EndpointText.of(session.serverHost, session.serverPort))",
                String(session.messageCount),
                String(session.bytesFromClient + session.bytesFromServer),
                Escaping.escape(Array((session.endReason ?? SessionFilter.openReason).utf8)),
            ])
        }
        return table.render()
    }
}
