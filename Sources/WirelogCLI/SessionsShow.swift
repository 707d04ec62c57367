import ArgumentParser
import Presentation
import Protocols
import Recording
import SessionFormats

struct SessionsShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a session's transcript.",
        discussion: """
            Each message on one line: time since the session started, direction (→ client to \
            server, ← server to client), verb or reply code, and the exact bytes with control \
            characters, CR, LF and invalid UTF-8 escaped (\\r \\n \\x1b …). A message longer \
            than --bytes is cut there, with a note of how much is hidden; --full shows it all. \
            A session whose protocol was decoded (HTTP, RESP, PostgreSQL: docs/PROTOCOLS.md) shows \
            each message as its users read it, and each response with how long its exchange took; \
            --raw shows the bytes instead. On a terminal the transcript goes through $PAGER \
            (default: \(Pager.defaultCommand)).

            Examples:
              wirelog sessions show 42
              wirelog sessions show 42 --absolute
              wirelog sessions show 42 --hex
              wirelog sessions show 42 --raw       # an HTTP, RESP or PostgreSQL session's bytes, not its requests
              wirelog sessions show 42 --full | grep secret
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

    @Flag(help: "Every byte of every message, however long.")
    var full = false

    @Flag(help: "The bytes of every message as stored, even where the session's protocol was decoded (HTTP, RESP, PostgreSQL).")
    var raw = false

    @Option(name: .customLong("bytes"), parsing: .unconditional, help: ArgumentHelp("Bytes of a message shown before it is cut.", valueName: "n"))
    var byteLimit = 512

    func validate() throws {
        guard byteLimit > 0 else { throw ValidationError("--bytes must be positive (--full shows every byte)") }
    }

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
            let pager = Pager.startOnTerminal()
            defer { pager?.finish() }
            Transcript.header(session).forEach { Output.line($0) }
            Output.line()
            let transcript = Transcript(absolute: absolute, hex: hex, byteLimit: full ? nil : byteLimit,
                                        rendering: raw ? nil : WireProtocols.named(session.decoding))
            let switchSeq = TLSText.switchSeq(session.tls)
            if switchSeq == 0 { Output.line(TLSText.switchLine) }
            try await store.forEachMessage(ofSession: id) { message in
                transcript.lines(message, sessionStartedMicros: session.startedMicros).forEach { Output.line($0) }
                if message.seq == switchSeq { Output.line(TLSText.switchLine) }
            }
        }
    }
}
