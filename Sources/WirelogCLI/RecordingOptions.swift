import ArgumentParser
import Backends
import Foundation
import Logging
import NIOCore
import Proxy
import Recording
import Server
import ServiceLifecycle

extension Durability: ExpressibleByArgument {}

/// What the recording commands (serve, proxy) share: where and how to record, and how to stop.
struct RecordingOptions: ParsableArguments {
    @OptionGroup var database: DatabaseOptions

    @Option(help: "normal: commits survive a crash of wirelog; full: they survive a crash of the machine too (slower).")
    var durability: Durability = .normal

    @Option(help: "How long a commit waits for another process's lock on the database before what it holds fails (and is not acknowledged).")
    var busyTimeout = Duration(microseconds: 5_000_000)

    @Flag(help: "Do not record (to measure what recording costs).")
    var noRecord = false

    @Option(help: ArgumentHelp("The recorder's name, stored with every session it records (default: this host's name).", valueName: "name"))
    var recorderName: String = RecorderName.hostName

    @Option(help: "Time a shutdown gives open connections to finish before closing them.")
    var shutdownGrace = Duration(microseconds: 10_000_000)

    /// The recorder, or nil with --no-record. A store that cannot be used is one line and exit 2.
    func openRecorder(logger: Logger) async throws -> (any RecordingSink)? {
        guard !noRecord else { return nil }
        // Past a file-size limit (ulimit -f) a write must fail with an error the store reports,
        // not kill the process: what it held is then simply not acknowledged.
        signal(SIGXFSZ, SIG_IGN)
        var settings = RecorderSettings()
        settings.durability = durability
        settings.busyTimeoutMilliseconds = busyTimeout.milliseconds
        return try await reportingErrors {
            let location = try database.location
            let sink = try await location.openRecorder(settings, logger: logger)
            logger.info("recording to \(location) as recorder '\(recorderName)'")
            return sink
        }
    }
}

/// A server that records: `serve`'s LabServer and `proxy`'s ProxyServer.
protocol RecordingServer: Sendable {
    func start() async throws -> SocketAddress
    func shutdownGracefully(grace: TimeAmount) async
}

extension LabServer: RecordingServer {}
extension ProxyServer: RecordingServer {}

/// Runs `server` until SIGINT/SIGTERM, then drains it: stop accepting, give open connections
/// `grace`, record everything, exit 0.
func runUntilSignalled(_ server: some RecordingServer, grace: Duration, listen: HostPort, logger: Logger) async throws {
    let service = RecordingService(server: server, grace: .microseconds(grace.microseconds))
    let group = ServiceGroup(configuration: .init(
        services: [.init(service: service)],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger))
    do {
        try await group.run()
    } catch let error as IOError {
        printError("cannot listen on \(listen): \(error.description)")
        throw ExitCode(2)
    }
}

private struct RecordingService<S: RecordingServer>: Service {
    let server: S
    let grace: TimeAmount

    func run() async throws {
        do {
            _ = try await server.start()
        } catch {
            await server.shutdownGracefully(grace: .zero)
            throw error
        }
        try? await gracefulShutdown()
        await server.shutdownGracefully(grace: grace)
    }
}
