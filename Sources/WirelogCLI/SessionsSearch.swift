import ArgumentParser
import Presentation
import Recording
import SessionFormats

struct SessionsSearch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find messages whose bytes contain TEXT, shown in context.",
        discussion: """
            TEXT is matched against the exact recorded bytes. Write bytes the way show prints \
            them: \\n, \\r, \\t, \\\\ and \\xNN (so '\\x1b[' finds an escape sequence). Matches come \
            newest first; --verb and --code apply to the matching message, the other filters to \
            its session.

            Examples:
              wirelog sessions search hello
              wirelog sessions search 'DATA secret\\n' --since 1d --context 2
              wirelog sessions search '\\x00' --json
            """)

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The bytes to look for.")
    var text: String

    @OptionGroup var filters: SessionFilterOptions

    @Option(help: "Most matches to show.")
    var limit = 50

    @Option(help: "Messages to show before and after each match.")
    var context = 1

    @Flag(help: "One JSON object per match (NDJSON): the session, the match and its context.")
    var json = false

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be positive") }
        guard context >= 0 else { throw ValidationError("--context cannot be negative") }
    }

    struct HitJSON: Encodable {
        var session: SessionJSON
        var match: MessageJSON
        var context: [MessageJSON]
    }

    func run() async throws {
        try await withStore(database) { store in
            let needle = try SearchText.bytes(text)
            let hits = try await store.search(needle, filter: try filters.filter(), limit: limit, context: context)
            if json {
                for hit in hits {
                    let started = hit.session.startedMicros
                    Output.line(try JSONOutput.line(HitJSON(
                        session: SessionJSON(hit.session),
                        match: MessageJSON(hit.match, sessionStartedMicros: started),
                        context: hit.context.map { MessageJSON($0, sessionStartedMicros: started) })))
                }
                return
            }
            if hits.isEmpty {
                Output.line("no message contains that text")
                return
            }
            let transcript = Transcript()
            var previousSession: Int64?
            for hit in hits {
                if hit.session.id != previousSession {
                    if previousSession != nil { Output.line() }
                    Transcript.header(hit.session).forEach { Output.line($0) }
                    previousSession = hit.session.id
                } else {
                    Output.line("  …")
                }
                for message in hit.context {
                    Output.line(transcript.line(message, sessionStartedMicros: hit.session.startedMicros,
                                                marker: message.id == hit.match.id ? ">" : " "))
                }
            }
            Output.line()
            Output.line("\(counted(hits.count, "match"))\(hits.count == limit ? " (the newest \(limit); raise --limit for more)" : "")")
        }
    }
}
