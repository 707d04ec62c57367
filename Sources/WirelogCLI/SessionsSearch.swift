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
            them: \\n, \\r, \\t, \\\\ and \\xNN (so '\\x1b[' finds an escape sequence). With \
            --regex, TEXT is a regular expression over the bytes (. is one byte, \\xNN the byte NN, \
            ^ and $ match at line ends). Matches come newest first; --verb and --code apply to the \
            matching message, the other filters to its session.

            Exit status, as grep's: 0 when something matched, 1 when nothing did, 2 for an error.

            Examples:
              wirelog sessions search hello
              wirelog sessions search 'DATA secret\\n' --since 1d --context 2
              wirelog sessions search '\\x00' --json
              wirelog sessions search -i 'data secret'
              wirelog sessions search --regex '^DATA [0-9]+\\r?$'
            """)

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The bytes to look for.")
    var text: String

    @OptionGroup var filters: SessionFilterOptions
    @OptionGroup var tlsFilters: TLSFilterOptions

    @OptionGroup(title: "Protocol filters") var protocolFilters: ProtocolFilterOptions

    @Flag(name: [.customShort("i"), .customLong("ignore-case")], help: "ASCII letters match in either case.")
    var ignoreCase = false

    @Flag(help: "TEXT is a regular expression over the bytes (Swift Regex syntax).")
    var regex = false

    @Option(parsing: .unconditional, help: "Most matches to show; 0 for all.")
    var limit = 50

    @Option(parsing: .unconditional, help: "Messages to show before and after each match.")
    var context = 1

    @Flag(help: "One JSON object per match (NDJSON): the session, the match and its context.")
    var json = false

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit cannot be negative (0 shows all)") }
        guard context >= 0 else { throw ValidationError("--context cannot be negative") }
    }

    struct HitJSON: Encodable {
        var session: SessionJSON
        var match: MessageJSON
        var context: [MessageJSON]
    }

    func run() async throws {
        let found = try await withStore(database) { store in
            let hits = try await store.search(try pattern(), filter: protocolFilters.narrowing(tlsFilters.narrowing(try filters.filter())),
                                              limit: limit == 0 ? Int.max : limit, context: context)
            if json {
                for hit in hits {
                    let started = hit.session.startedMicros
                    Output.line(try JSONOutput.line(HitJSON(
                        session: SessionJSON(hit.session),
                        match: MessageJSON(hit.match, sessionStartedMicros: started),
                        context: hit.context.map { MessageJSON($0, sessionStartedMicros: started) })))
                }
            } else if hits.isEmpty {
                Output.line("no message contains that text")
            } else {
                printTranscripts(hits)
            }
            return !hits.isEmpty
        }
        // grep's convention: a search that finds nothing fails, so scripts can test it.
        if !found { throw ExitCode(1) }
    }

    private func pattern() throws -> SearchPattern {
        guard regex else { return SearchPattern(bytes: try SearchText.bytes(text), ignoringCase: ignoreCase) }
        do {
            return try SearchPattern(regex: text, ignoringCase: ignoreCase)
        } catch {
            throw InputError("cannot read the regular expression '\(text)': \(error)")
        }
    }

    private func printTranscripts(_ hits: [SearchHit]) {
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
        let more = hits.count == limit ? " (the newest \(limit); --limit N or --limit 0 for all)" : ""
        Output.line(counted(hits.count, "match") + more)
    }
}
