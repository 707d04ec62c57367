import ArgumentParser
import Logging
import NIOCore
import Presentation
import Protocols
import Proxy
import Recording
import WirelogTLS

extension Decoding: ExpressibleByArgument {
    /// `auto` or a protocol of `WireProtocols`, by name.
    public init?(argument: String) {
        guard WireProtocols.names.contains(argument) else { return nil }
        self.init(argument)
    }

    public static var allValueStrings: [String] { WireProtocols.names }
}

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

    @Option(help: ArgumentHelp("The server every connection is forwarded to (a host name, IPv4 or [IPv6] address); optional with --api.", valueName: "host:port"), transform: HostPort.parse)
    var upstream: HostPort?

    @OptionGroup var recording: RecordingOptions

    @Option(help: ArgumentHelp(
        "How each direction is cut into messages: auto (the protocol the client's first bytes show, else raw), \(WireProtocols.names.dropFirst().joined(separator: ", ")). See docs/PROTOCOLS.md.",
        valueName: "protocol"))
    var decode: Decoding = .auto

    @Option(parsing: .unconditional, help: "With lines or lab decoding, silence after a partial line that completes it.")
    var quietPeriod = TimeSpan(microseconds: 200_000)

    @Option(parsing: .unconditional, help: "The longest line kept whole (lines, lab; an HTTP head line, a RESP length line); a longer one is recorded in pieces.")
    var maxLine = 64 * 1024

    @Option(parsing: .unconditional, help: ArgumentHelp("The largest decoded message kept whole (an HTTP body, a RESP bulk string, a PostgreSQL turn); a longer one is recorded in pieces of this size.", valueName: "bytes"))
    var maxMessage = 1 << 20

    @Option(parsing: .unconditional, help: "Most connections at once; more are closed at once and recorded as refused.")
    var maxConnections = 4096

    @Option(parsing: .unconditional, help: "Time allowed for connecting to the upstream.")
    var connectTimeout = TimeSpan(microseconds: 5_000_000)

    @Option(parsing: .unconditional, help: "Event-loop threads (default: one per core).")
    var threads: Int?

    @OptionGroup(title: "TLS from clients") var tls: ListeningTLSOptions

    @Option(help: ArgumentHelp("Terminate clients' TLS with certificates minted for each name they ask for by a local CA kept in this directory (made on first use; trust its ca.pem in the clients).", valueName: "dir"))
    var tlsMintCa: String?

    @Flag(inversion: .prefixedNo, help: "Let plaintext clients switch to TLS mid-stream (a PostgreSQL SSLRequest, SMTP STARTTLS) and record the plaintext on both sides of the switch; without a certificate the switch is refused, so the traffic stays readable. (default: on with --tls-cert or --tls-mint-ca and --decode auto, postgres or smtp)")
    var starttls: Bool?

    @OptionGroup(title: "TLS to the upstream") var upstreamTLS: UpstreamTLSOptions

    @OptionGroup(title: "Faults (toxiproxy's toxics and API)") var faultOptions: FaultOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard let upstream else {
            if faultOptions.api == nil { throw ValidationError("give --upstream host:port (or --api host:port to start with no proxies)") }
            if !faultOptions.fault.isEmpty { throw ValidationError("--fault applies to the --upstream proxy: give --upstream, or add toxics over the API") }
            try recording.webAccess.validate(faultOptions.api!)
            return
        }
        if let api = faultOptions.api { try recording.webAccess.validate(api) }
        guard upstream.port > 0 else { throw ValidationError("--upstream needs a port other than 0") }
        guard maxLine > 0 else { throw ValidationError("--max-line must be positive") }
        guard maxMessage > 0 else { throw ValidationError("--max-message must be positive") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        guard quietPeriod.microseconds > 0 else { throw ValidationError("--quiet-period must be positive") }
        guard connectTimeout.microseconds > 0 else { throw ValidationError("--connect-timeout must be positive") }
        if tlsMintCa != nil && tls.tlsCert != nil { throw ValidationError("--tls-mint-ca and --tls-cert exclude each other") }
        if starttls == true && !ProxyConfiguration.startTLSApplies(to: decode) {
            throw ValidationError("--starttls needs --decode auto or a protocol that can switch to TLS (postgres, smtp)")
        }
    }

    func run() async throws {
        let logger = logging.makeLogger(label: "wirelog.proxy")
        var configuration = ProxyConfiguration(upstreamHost: upstream?.host ?? "", upstreamPort: upstream?.port ?? 0)
        configuration.listenHost = listen.host
        configuration.listenPort = listen.port
        configuration.decoding = decode
        configuration.maxMessageBytes = maxMessage
        configuration.quietPeriod = .microseconds(quietPeriod.microseconds)
        configuration.maxLineLength = maxLine
        configuration.maxConnections = maxConnections
        configuration.connectTimeout = .microseconds(connectTimeout.microseconds)
        configuration.eventLoopThreads = threads ?? System.coreCount

        configuration.recorderName = recording.recorderName
        let keyLog = try tls.keyLog.open(logger: logger)
        configuration.tls = try tls.serverTLS(identity: try mintingIdentity(logger: logger), keyLog: keyLog, start: .whenTold)
        configuration.upstreamTLS = try upstreamTLS.clientTLS(handshakeTimeout: tls.handshakeTimeout, keyLog: keyLog)
        configuration.startTLS = starttls ?? (configuration.tls != nil && ProxyConfiguration.startTLSApplies(to: decode))

        if faultOptions.isUsed { return try await runWithFaults(configuration, logger: logger) }
        let proxy = try await recording.makeServer(listen: listen, logger: logger) { sink in
            ProxyServer(configuration: configuration, sink: sink, logger: logger)
        }
        try await runUntilSignalled(proxy, recording: recording, listen: listen, logger: logger)
    }

    /// With --tls-mint-ca: the CA there (made now if it is not yet), and where clients find it.
    private func mintingIdentity(logger: Logger) throws -> ServerTLS.Identity? {
        guard let tlsMintCa else { return nil }
        let (authority, created) = try tlsSetup { try CertificateAuthority.openOrCreate(directory: tlsMintCa) }
        let path = CertificateAuthority.certificatePath(in: tlsMintCa)
        logger.info("\(created ? "made a new" : "using the") CA for minted certificates: trust \(path) in the clients (e.g. curl --cacert \(path))")
        return .minted(authority, defaultName: upstream?.host ?? "localhost")
    }
}
