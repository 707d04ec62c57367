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
    @OptionGroup var tlsFilters: TLSFilterOptions

    @OptionGroup(title: "Protocol filters") var protocolFilters: ProtocolFilterOptions

    @Option(parsing: .unconditional, help: "Most sessions to show; 0 for all.")
    var limit = 50

    @Flag(help: "One JSON array of sessions instead of the table.")
    var json = false

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit cannot be negative (0 shows all)") }
    }

    /// How far the "more sessions" line counts: a count that stays cheap on any store.
    static let moreCountBound = 1_000

    func run() async throws {
        try await withStore(database) { store in
            let filter = try protocolFilters.narrowing(tlsFilters.narrowing(try filters.filter()))
            let sessions = try await store.list(filter, limit: limit == 0 ? Int.max : limit)
            if json {
                Output.line(try JSONOutput.line(sessions.map { SessionJSON($0) }))
                return
            }
            guard let last = sessions.last else {
                Output.line("no sessions match")
                return
            }
            Output.line(Self.table(sessions))
            guard sessions.count == limit else { return }
            let more = try await store.countSessions(filter, before: SessionListPosition(after: last), upTo: Self.moreCountBound + 1)
            if more > 0 { Output.line(Self.moreLine(more)) }
        }
    }

    /// `… 1,234 more sessions; --limit N or --limit 0 for all`; past the bound, how far it counted.
    static func moreLine(_ more: Int) -> String {
        let count = more > moreCountBound ? "over \(grouped(moreCountBound)) more sessions" : "\(grouped(more)) more \(more == 1 ? "session" : "sessions")"
        return "… \(count); --limit N or --limit 0 for all"
    }

    static func table(_ sessions: [SessionSummary]) -> String {
        var table = TableFormatter([
            .right("id"), .left("start"), .right("duration"), .left("kind"), .left("protocol"), .left("recorder"), .left("client → server"),
            .right("messages"), .right("bytes"), .left("end reason"), .right("replay of"),
        ])
        for session in sessions {
            table.append([
                String(session.id),
                RelativeTime.localTimestamp(session.startedMicros),
                session.endedMicros.map { DurationText.micros($0 - session.startedMicros) } ?? "-",
                Escaping.escape(Array(session.kind.utf8)),
                Escaping.escape(Array(session.decoding.utf8)),
                Escaping.escape(Array(session.recorder.utf8)),
                "\(EndpointText.of(session.clientHost, session.clientPort)) → \(EndpointText.of(session.serverHost, session.serverPort))",
                String(session.messageCount),
                String(session.bytesFromClient + session.bytesFromServer),
                Escaping.escape(Array((session.endReason ?? SessionFilter.openReason).utf8)),
                session.replayOf.map(String.init) ?? "",
            ])
        }
        return table.render()
    }
}
