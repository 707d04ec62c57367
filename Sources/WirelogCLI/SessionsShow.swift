import ArgumentParser
import Recording
import SessionFormats

struct SessionsShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a session's transcript.",
        discussion: """
            Each message on one line: time since the session started, direction (→ client to \
            server, ← server to client), verb or reply code, and the exact bytes with control \
            characters, CR, LF and invalid UTF-8 escaped (\\r \\n \\x1b …).

            Examples:
              wirelog sessions show 42
              wirelog sessions show 42 --absolute
              wirelog sessions show 42 --hex
              wirelog sessions show 42 --json | jq '.messages[0].raw | @base64d'
            """)

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The session id (wirelog sessions list shows them).")
    var id: Int64

    @Flag(help: "Wall-clock times (local) instead of times since the session started.")
    var absolute = false

    @Flag(help: "A hex dump of every message.")
    var hex = false

    @Flag(help: "The session and its messages as one JSON document (bytes base64).")
    var json = false

    func run() async throws {
        try await withStore(database) { store in
            let session = try await store.session(id)
            if json {
                var messages: [MessageJSON] = []
                try await store.forEachMessage(ofSession: id) {
                    messages.append(MessageJSON($0, sessionStartedMicros: session.startedMicros))
                }
                Output.line(try JSONOutput.line(SessionJSON(session, messages: messages)))
                return
            }
            Transcript.header(session).forEach { Output.line($0) }
            Output.line()
            let transcript = Transcript(absolute: absolute, hex: hex)
            try await store.forEachMessage(ofSession: id) { message in
                transcript.lines(message, sessionStartedMicros: session.startedMicros).forEach { Output.line($0) }
            }
        }
    }
}
