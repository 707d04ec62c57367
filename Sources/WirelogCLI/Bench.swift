import ArgumentParser
import Bench
import Foundation
import Presentation

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load generator and synthetic data for benchmarks.",
        subcommands: [BenchRun.self, BenchEcho.self, BenchPopulate.self],
        defaultSubcommand: BenchRun.self)
}

struct BenchRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Closed-loop load against a line-protocol server, or verified bulk bytes through an echo server.",
        discussion: """
            Each connection sends --request and waits for the reply (or keeps --pipeline requests in flight). \
            A reply is one line, or two for a lab 4xx reply; any one-line server works \
            (redis: --request 'PING\\r\\n' --expect '+PONG\\r\\n'). \
            With --bulk, each connection streams that many random bytes to an echo server and checks every byte that comes back. \
            On a terminal a progress line on standard error shows the run going. Times: \(TimeSpan.forms).
            """)

    static let defaultDuration = TimeSpan(microseconds: 10_000_000)

    @Option(help: "Server to load.", transform: HostPort.parse)
    var to: HostPort

    @Option(parsing: .unconditional, help: "Connections at once.")
    var connections = 1

    @Option(parsing: .unconditional, help: "How long to measure, after the warm-up (default: \(Self.defaultDuration), unless --requests).")
    var duration: TimeSpan?

    @Option(parsing: .unconditional, help: "Measure exactly this many requests instead of a duration.")
    var requests: Int?

    @Option(parsing: .unconditional, help: "Load that is not measured, before the measured phase.")
    var warmup = TimeSpan(microseconds: 0)

    @Option(parsing: .unconditional, help: "Requests each connection keeps in flight.")
    var pipeline = 1

    @Option(help: "Request bytes; \\n, \\r, \\t, \\0, \\\\ and \\xHH are escapes.")
    var request = #"DATA 0123456789abcdef\n"#

    @Option(help: "Expected reply bytes (same escapes); any other reply counts as bad.")
    var expect: String?

    @Option(parsing: .unconditional, help: "Bytes each connection streams through an echo server (bulk mode).")
    var bulk: Int?

    @Option(parsing: .unconditional, help: "Event-loop threads of the load generator.")
    var threads = 1

    @Option(parsing: .unconditional, help: "A connection waiting this long for a reply counts an error and is closed.")
    var timeout = TimeSpan(microseconds: 10_000_000)

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @OptionGroup(title: "TLS (handshakes are timed apart from the load)") var tls: ClientTLSOptions

    func validate() throws {
        guard connections > 0 else { throw ValidationError("--connections must be positive") }
        guard pipeline > 0 else { throw ValidationError("--pipeline must be positive") }
        guard threads > 0 else { throw ValidationError("--threads must be positive") }
        guard timeout.microseconds > 0 else { throw ValidationError("--timeout must be positive") }
        if duration != nil && requests != nil { throw ValidationError("give --duration or --requests, not both") }
        if let requests, requests <= 0 { throw ValidationError("--requests must be positive") }
        if let duration, duration.microseconds <= 0 { throw ValidationError("--duration must be positive") }
        if let bulk, bulk <= 0 { throw ValidationError("--bulk must be positive") }
        if bulk != nil && (requests != nil || duration != nil || expect != nil) {
            throw ValidationError("--bulk streams a fixed number of bytes: leave out --duration, --requests and --expect")
        }
        do {
            guard try !ArgumentEscapes.unescape(request).isEmpty else { throw ValidationError("--request must not be empty") }
            _ = try expect.map(ArgumentEscapes.unescape)
        } catch let error as ArgumentEscapes.InvalidEscape {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        var configuration = BenchConfiguration()
        configuration.host = to.host
        configuration.port = to.port
        configuration.connections = connections
        if let requests {
            configuration.stop = .requests(requests)
        } else {
            configuration.stop = .duration(microseconds: (duration ?? Self.defaultDuration).microseconds)
        }
        configuration.warmupMicroseconds = warmup.microseconds
        configuration.pipeline = pipeline
        configuration.request = try ArgumentEscapes.unescape(request)
        configuration.expect = try expect.map(ArgumentEscapes.unescape)
        configuration.threads = threads
        configuration.replyTimeoutMicroseconds = timeout.microseconds
        configuration.bulkBytes = bulk
        configuration.tls = try tls.clientTLS()

        let progress = isatty(STDERR_FILENO) == 1 ? Task { await showProgress(configuration) } : nil
        let result = try await LoadGenerator.run(configuration)
        progress?.cancel()
        await progress?.value
        print(json ? result.json() : result.text())
        if result.connected == 0 {
            printError(result.firstError ?? "no connection to \(to)")
            throw ExitCode(2)
        }
        if result.errors > 0 || result.badReplies > 0 { throw ExitCode(1) }
    }
}

extension BenchRun {
    /// A line on standard error (a terminal) redrawn twice a second until cancelled:
    /// which phase the run is in and for how long.
    private func showProgress(_ configuration: BenchConfiguration) async {
        let started = Date()
        let warmup = configuration.warmupMicroseconds
        while !Task.isCancelled {
            let elapsed = Int64(Date().timeIntervalSince(started) * 1_000_000)
            var line = "bench: \(configuration.host):\(configuration.port), \(counted(configuration.connections, "connection")), "
            if elapsed < warmup {
                line += "warming up \(DurationText.micros(elapsed)) of \(DurationText.micros(warmup))"
            } else if case .duration(let planned) = configuration.stop, configuration.bulkBytes == nil {
                line += "measuring \(DurationText.micros(min(elapsed - warmup, planned))) of \(DurationText.micros(planned))"
            } else {
                line += "running for \(DurationText.micros(elapsed - warmup))"
            }
            ProgressLine.show(line)
            try? await Task.sleep(nanoseconds: 500_000_000)
        }
        ProgressLine.clear()
    }
}

struct BenchEcho: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "A TCP echo server, for `wirelog bench --bulk` through a proxy.",
        discussion: "Runs until interrupted (SIGINT/SIGTERM).")

    static let defaultListen = HostPort(host: "127.0.0.1", port: 7072)

    @Option(help: "Address to listen on (port 0 picks a free one). (default: \(defaultListen))", transform: HostPort.parse)
    var listen = defaultListen

    @Option(parsing: .unconditional, help: "Event-loop threads.")
    var threads = 1

    func validate() throws {
        guard threads > 0 else { throw ValidationError("--threads must be positive") }
    }

    func run() async throws {
        let server: EchoServer
        do {
            server = try await EchoServer.start(host: listen.host, port: listen.port, threads: threads)
        } catch {
            printError("cannot listen on \(listen): \(NetworkErrorText.reason(error))")
            throw ExitCode(2)
        }
        printError("echo server listening on \(listen.host):\(server.port)")
        // Default signal handling ends the process; nothing here needs a graceful stop.
        try await server.closed.get()
    }
}
