import ArgumentParser
import Bench
import Logging
import Mock
import NIOCore
import Presentation
import Recording
import Replay

extension MockOrder: ExpressibleByArgument {}
extension MockFraming: ExpressibleByArgument {}
extension WhenExhausted: ExpressibleByArgument {}
extension MockMatching: ExpressibleByArgument {}

struct MockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock",
        abstract: "Stand in for a server: answer clients with the replies recorded from it.",
        discussion: """
            HTTP, RESP and PostgreSQL recordings answer by what a request asks (method, path, query \
            and JSON body; command and arguments; statement and parameters), from every chosen \
            session whatever connection the request comes on; the same request gets its recorded \
            answers in order, then the last again (--when-exhausted). Other recordings answer by \
            bytes: client bytes are held until they are a recorded request (--framing recorded), a \
            line or a lab command; a server that spoke first speaks first, a recorded close is a \
            close. With --order strict connection k follows session k mod n turn by turn, by bytes. \
            The mock's own conversations are recorded as sessions of kind mock (not with --no-record). \
            Without ids or filters every recorded session but the mocks' is used. \
            Times: \(TimeSpan.forms). See docs/MOCK.md.
            """)

    @OptionGroup var sessions: SessionSelectionOptions

    @Option(help: "Address to listen on (port 0 picks a free one).", transform: HostPort.parse)
    var listen: HostPort

    @Option(help: "any: any recorded exchange answers; strict: each connection follows one session turn by turn.")
    var order: MockOrder = .any

    @Option(help: "How client bytes are cut before matching: recorded (as the recording cut them), line, or lab (lab commands, DATA with its payload).")
    var framing: MockFraming = .recorded

    @Option(help: ArgumentHelp("Reply delays: none (at once), recorded (as recorded), or xN (recorded, N times faster).", valueName: "none|recorded|xN"),
            transform: { argument in
                guard let pace = MockPace(argument: argument) else {
                    throw ValidationError("--pace takes none, recorded or xN with N a positive number (x2 is twice as fast)")
                }
                return pace
            })
    var pace: MockPace = .none

    @Option(help: "HTTP, RESP and PostgreSQL requests matched by what they ask (fields) or by their bytes.")
    var match: MockMatching = .fields

    @Option(help: "Once a request got each of its recorded answers: repeat the last, or miss.")
    var whenExhausted: WhenExhausted = .repeat

    @Option(help: ArgumentHelp("A replay rule, taken for symmetry: the mock never matches HTTP headers (repeatable).",
                               valueName: "name"))
    var ignoreHeader: [String] = []

    @Option(help: ArgumentHelp("Leave this query parameter out when matching HTTP requests (repeatable).", valueName: "name"))
    var ignoreQuery: [String] = []

    @Option(name: .customLong("ignore-json"), help: ArgumentHelp("Leave this JSON path out of request bodies when matching ($.a.b, $.items[*].id; repeatable).", valueName: "path"))
    var ignoreJSON: [String] = []

    @Option(help: ArgumentHelp("A rules file (ignore-header NAME, ignore-query NAME, ignore-json PATH, one a line), as replay --rules takes.", valueName: "file"))
    var matchFile: String?

    @Flag(help: "Log each match decision: which recording answered, or why nothing did.")
    var explain = false

    @Option(help: ArgumentHelp("When nothing recorded matches: error (default: the protocol's error naming the closest recorded request and what differs, HTTP 501, RESP -ERR, PostgreSQL ErrorResponse; a close for other protocols); close; reply BYTES (escapes such as \\r\\n allowed) and go on; or upstream HOST:PORT, forward the connection from there on to the real server and record what it says (the next run answers from it).", valueName: "close|reply BYTES|upstream HOST:PORT"))
    var onMiss: String = "error"

    @Option(parsing: .unconditional, help: "With --on-miss upstream, time allowed for connecting to it.")
    var connectTimeout = TimeSpan(microseconds: 5_000_000)

    @Option(help: ArgumentHelp("Mask what matches this regular expression in client and recorded requests before comparing (repeatable), as replay --ignore.", valueName: "regex"))
    var ignore: [String] = []

    @Option(parsing: .unconditional, help: "Silence after bytes that only begin a recorded request (or an unterminated line) that completes them.")
    var quietPeriod = TimeSpan(microseconds: 200_000)

    @Option(parsing: .unconditional, help: "Most client bytes held while they match nothing yet (and the longest line with line or lab framing).")
    var maxLine = 64 * 1024

    @Option(parsing: .unconditional, help: "Most connections at once; more are refused (a lab recording's client gets 503 BUSY).")
    var maxConnections = 4096

    @Option(parsing: .unconditional, help: "Event-loop threads (default: one per core).")
    var threads: Int?

    @OptionGroup var recording: RecordingOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard maxLine > 0 else { throw ValidationError("--max-line must be positive") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        guard quietPeriod.microseconds > 0 else { throw ValidationError("--quiet-period must be positive") }
        guard connectTimeout.microseconds > 0 else { throw ValidationError("--connect-timeout must be positive") }
        _ = try missAction()
        _ = try rules()
        do {
            _ = try Masking(patterns: ignore)
        } catch {
            throw ValidationError(error.description)
        }
    }

    private func missAction() throws -> MissAction {
        if onMiss == "error" { return .error }
        if onMiss == "close" { return .close }
        if onMiss.hasPrefix("upstream ") {
            let address = try HostPort.parse(String(onMiss.dropFirst("upstream ".count)))
            guard address.port > 0 else { throw ValidationError("--on-miss upstream needs a port other than 0") }
            return .upstream(host: address.host, port: address.port)
        }
        guard onMiss.hasPrefix("reply ") else {
            throw ValidationError("--on-miss takes error, close, reply BYTES or upstream HOST:PORT (e.g. --on-miss 'reply -ERR not recorded\\r\\n', --on-miss 'upstream 127.0.0.1:6379')")
        }
        do {
            return .reply(try ArgumentEscapes.unescape(String(onMiss.dropFirst("reply ".count))))
        } catch {
            throw ValidationError("--on-miss reply: \(error)")
        }
    }

    /// The `--ignore-*` options and the `--match-file`'s rules together.
    private func rules() throws -> MatchRules {
        do {
            return try MatchRules.gathered(headers: ignoreHeader, query: ignoreQuery, jsonPaths: ignoreJSON, file: matchFile)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        let logger = logging.makeLogger(label: "wirelog.mock")
        // Everything that can be wrong with the recordings is said before listening.
        let (script, redactor) = try await reportingErrors { () async throws -> (MockScript, Redactor?) in
            let location = try recording.database.location
            // A recording mock may upgrade the store it then records into; --no-record only reads.
            let store = try await location.openStore(recording.noRecord ? .read : .modify)
            do {
                let script = try await MockScript.load(try sessions.selection(), from: store, order: order)
                // The rules the recorder will apply, for matching and logging requests as it stores them.
                let redactor = try await store.redaction().redactor(adding: try recording.redaction.rules(),
                                                                    useStoreRules: !recording.redaction.noStoreRules)
                await store.close()
                return (script, redactor)
            } catch let error as SelectionError {
                await store.close()
                printError("\(error)")
                throw ExitCode(2)
            } catch let error as MockScriptError {
                await store.close()
                printError("\(error)")
                throw ExitCode(2)
            } catch {
                await store.close()
                throw error
            }
        }
        if recording.noRecord { logger.info("\(Redactor.inForce(redactor))") }

        var configuration = MockConfiguration()
        configuration.listenHost = listen.host
        configuration.listenPort = listen.port
        configuration.order = order
        configuration.framing = framing
        configuration.pace = pace
        configuration.onMiss = try missAction()
        try configuration.mask(ignore)
        configuration.quietPeriod = .microseconds(quietPeriod.microseconds)
        configuration.maxLineLength = maxLine
        configuration.maxConnections = maxConnections
        configuration.connectTimeout = .microseconds(connectTimeout.microseconds)
        configuration.eventLoopThreads = threads ?? System.coreCount
        configuration.recorderName = recording.recorderName
        configuration.redactor = redactor
        configuration.rules = try rules()
        configuration.whenExhausted = whenExhausted
        configuration.matchBy = match
        configuration.explain = explain
        let mock = try await recording.makeServer(listen: listen, logger: logger) { sink in
            let mock = MockServer(configuration: configuration, script: script, sink: sink, logger: logger)
            logger.info("answering from \(counted(script.sessions.count, "recorded session")) (\(mock.matchingDescription))")
            return mock
        }
        try await runUntilSignalled(mock, recording: recording, listen: listen, logger: logger)
    }
}

extension MockServer: RecordingServer {}
