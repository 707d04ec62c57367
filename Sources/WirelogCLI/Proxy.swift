import ArgumentParser
import Logging
import NIOCore
import Presentation
import Proxy
import Recording

extension Decoding: ExpressibleByArgument {}

struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Forward TCP connections to one upstream server, recording both directions byte for byte.",
        discussion: """
            Each accepted connection gets its own connection to --upstream; every byte is forwarded \
            unchanged, in both directions, and recorded as a session of kind proxy.
            SIGINT/SIGTERM stop it gracefully: no new connections, open ones get --shutdown-grace \
            to finish, the rest end with reason shutdown, and every record is committed; a second \
            SIGINT (Ctrl-C) stops it at once.
            Times: \(TimeSpan.forms). See docs/PROXY.md.
            """)

    static let defaultListen = HostPort(host: "127.0.0.1", port: 7071)

    @Option(help: "Address to listen on (port 0 picks a free one). (default: \(defaultListen))", transform: HostPort.parse)
    var listen = defaultListen

    @Option(help: ArgumentHelp("The server every connection is forwarded to (a host name, IPv4 or [IPv6] address).", valueName: "host:port"), transform: HostPort.parse)
    var upstream: HostPort

    @OptionGroup var recording: RecordingOptions

    @Option(help: "How each direction is cut into messages: raw (chunks as read), lines, or lab (commands and replies of the lab protocol).")
    var decode: Decoding = .raw

    @Option(help: "With lines or lab decoding, silence after a partial line that completes it.")
    var quietPeriod = TimeSpan(microseconds: 200_000)

    @Option(help: "With lines or lab decoding, the longest line kept whole; a longer one is recorded in pieces.")
    var maxLine = 64 * 1024

    @Option(help: "Most connections at once; more are closed at once and recorded as refused.")
    var maxConnections = 4096

    @Option(help: "Time allowed for connecting to the upstream.")
    var connectTimeout = TimeSpan(microseconds: 5_000_000)

    @Option(help: "Event-loop threads (default: one per core).")
    var threads: Int?

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard upstream.port > 0 else { throw ValidationError("--upstream needs a port other than 0") }
        guard maxLine > 0 else { throw ValidationError("--max-line must be positive") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        guard quietPeriod.microseconds > 0 else { throw ValidationError("--quiet-period must be positive") }
        guard connectTimeout.microseconds > 0 else { throw ValidationError("--connect-timeout must be positive") }
    }

    func run() async throws {
        let logger = logging.makeLogger(label: "wirelog.proxy")
        var configuration = ProxyConfiguration(upstreamHost: upstream.host, upstreamPort: upstream.port)
        configuration.listenHost = listen.host
        configuration.listenPort = listen.port
        configuration.decoding = decode
        configuration.quietPeriod = .microseconds(quietPeriod.microseconds)
        configuration.maxLineLength = maxLine
        configuration.maxConnections = maxConnections
        configuration.connectTimeout = .microseconds(connectTimeout.microseconds)
        configuration.eventLoopThreads = threads ?? System.coreCount

        configuration.recorderName = recording.recorderName

        let proxy = try await recording.makeServer(listen: listen, logger: logger) { sink in
            ProxyServer(configuration: configuration, sink: sink, logger: logger)
        }
        try await runUntilSignalled(proxy, recording: recording, listen: listen, logger: logger)
    }
}
