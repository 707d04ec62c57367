import ArgumentParser
import Foundation
import LabProtocol
import Logging
import NIOCore
import Presentation
import Recording
import Server

extension LineEnding: ExpressibleByArgument {}
extension ServerConfiguration.Framing: ExpressibleByArgument {}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the lab protocol server, recording every session into SQLite.",
        discussion: """
            SIGINT/SIGTERM stop it gracefully: pending commands are answered and recorded, sessions \
            end with reason shutdown; a second SIGINT (Ctrl-C) stops it at once. Times: \(TimeSpan.forms).
            """)

    static let defaultListen = HostPort(host: "127.0.0.1", port: 7070)

    @Option(help: "Address to listen on (loopback unless told otherwise; port 0 picks a free one). (default: \(defaultListen))", transform: HostPort.parse)
    var listen = defaultListen

    @OptionGroup var recording: RecordingOptions

    @Option(help: "Make every reply line end with lf or crlf (default: the lab's bytes, LF, and CRLF in the 400 reply).")
    var lineEnding: LineEnding?

    @Option(help: "auto: a partial line followed by the quiet period is a command (lab clients send no terminator); line: only LF ends a command.")
    var framing: ServerConfiguration.Framing = .auto

    @Option(parsing: .unconditional, help: "Silence after a partial line that completes it, with --framing auto.")
    var quietPeriod = TimeSpan(microseconds: 200_000)

    @Option(parsing: .unconditional, help: "Longest line in bytes; a longer one gets a 400 reply and the connection is closed.")
    var maxLine = 64 * 1024

    @Option(parsing: .unconditional, help: "Close a connection that sends nothing for this long (\(TimeSpan.forms)); 0 turns the limit off.")
    var idleTimeout = TimeSpan(microseconds: 300_000_000)

    @Option(parsing: .unconditional, help: "Most connections at once; more are refused with a one-line 503 reply.")
    var maxConnections = 4096

    @Option(parsing: .unconditional, help: "Event-loop threads (default: one per core).")
    var threads: Int?

    @OptionGroup(title: "TLS") var tls: ListeningTLSOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard maxLine > 0 else { throw ValidationError("--max-line must be positive") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        guard quietPeriod.microseconds > 0 else { throw ValidationError("--quiet-period must be positive") }
    }

    func run() async throws {
        let logger = logging.makeLogger(label: "wirelog.serve")
        var configuration = ServerConfiguration()
        configuration.host = listen.host
        configuration.port = listen.port
        configuration.lineEnding = lineEnding
        configuration.framing = framing
        configuration.quietPeriod = .microseconds(quietPeriod.microseconds)
        configuration.maxLineLength = maxLine
        configuration.idleTimeout = .microseconds(idleTimeout.microseconds)
        configuration.maxConnections = maxConnections
        configuration.eventLoopThreads = threads ?? System.coreCount
        configuration.recording = !recording.noRecord

        configuration.recorderName = recording.recorderName
        configuration.tls = try tls.serverTLS(keyLog: try tls.keyLog.open(logger: logger))

        let server = try await recording.makeServer(listen: listen, logger: logger) { sink in
            LabServer(configuration: configuration, sink: sink, logger: logger)
        }
        try await runUntilSignalled(server, recording: recording, listen: listen, logger: logger)
    }
}
