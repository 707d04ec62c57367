import ArgumentParser
import Presentation
import Recording

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
    @OptionGroup var tlsFilters: TLSFilterOptions

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
            let hits = try await store.search(needle, filter: tlsFilters.narrowing(try filters.filter()), limit: limit, context: context)
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

/// Search text → bytes: UTF-8, with the escapes `Escaping.escape` prints turned back into bytes.
enum SearchText {
    static func bytes(_ text: String) throws -> [UInt8] {
        let input = Array(text.utf8)
        var bytes: [UInt8] = []
        var index = 0
        while index < input.count {
            let byte = input[index]
            guard byte == UInt8(ascii: "\\") else {
                bytes.append(byte)
                index += 1
                continue
            }
            guard index + 1 < input.count else { throw invalid(text) }
            switch input[index + 1] {
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "x"):
                guard index + 3 < input.count,
                      let value = UInt8(String(decoding: input[index + 2...index + 3], as: UTF8.self), radix: 16)
                else { throw invalid(text) }
                bytes.append(value)
                index += 2
            default: throw invalid(text)
            }
            index += 2
        }
        guard !bytes.isEmpty else { throw QueryError.usage("the search text is empty: give the bytes to look for") }
        return bytes
    }

    private static func invalid(_ text: String) -> QueryError {
        .usage("cannot read the search text '\(text)': after \\ use n, r, t, \\ or xNN (two hex digits)")
    }
}
