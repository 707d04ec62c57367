import ArgumentParser
import Backends
import Foundation
import LabProtocol
import Logging
import NIOCore
import Operations
import Proxy
import Recording
import Server
import WebViewer
import Presentation
import ServiceLifecycle

extension Durability: ExpressibleByArgument {}

/// What the recording commands (serve, proxy) share: where and how to record, and how to stop.
struct RecordingOptions: ParsableArguments {
    @OptionGroup var database: DatabaseOptions

    @Option(help: "normal: commits survive a crash of wirelog; full: they survive a crash of the machine too (slower).")
    var durability: Durability = .normal

    @Option(parsing: .unconditional, help: "How long a commit waits for another process's lock on the database before what it holds fails (and is not acknowledged).")
    var busyTimeout = TimeSpan(microseconds: 5_000_000)

    @Flag(help: "Do not record (to measure what recording costs).")
    var noRecord = false

    @Option(help: ArgumentHelp("The recorder's name, stored with every session it records (default: this host's name).", valueName: "name"))
    var recorderName: String = RecorderName.hostName

    @Option(parsing: .unconditional, help: "Time a shutdown gives open connections to finish before closing them.")
    var shutdownGrace = TimeSpan(microseconds: 10_000_000)

    @Option(help: ArgumentHelp("Also serve the web viewer here (as `wirelog web`), following this process's recordings live.", valueName: "host:port"), transform: HostPort.parse)
    var web: HostPort?

    @Option(help: ArgumentHelp("Serve Prometheus metrics (/metrics) and health checks (/healthz, /readyz) here, and on --web too; beyond loopback it needs the web token. See docs/OPERATIONS.md.", valueName: "host:port"), transform: HostPort.parse)
    var metrics: HostPort?

    @OptionGroup var webAccess: WebAccessOptions

    @OptionGroup(title: "Redaction") var redaction: RedactionOptions

    func validate() throws {
        if let web { try webAccess.validate(web) }
        if let metrics {
            if !webAccess.settings(metrics).isLoopback && webAccess.resolvedToken == nil {
                throw ValidationError("--metrics on \(metrics.host) would be read by every machine that reaches it: set WIRELOG_WEB_TOKEN or give --token-file FILE, or listen on 127.0.0.1")
            }
            try webAccess.validate(metrics)
        }
    }

    /// The `--web` viewer, reading its own read-only connection to the store being recorded
    /// (with the operations routes too, given `--metrics`).
    func webViewer(operations: OperationsRoutes?, logger: Logger) throws -> (service: any Service, store: ViewerStore)? {
        guard let web else { return nil }
        let location = try database.location
        let store = ViewerStore { try await location.openStore(.read) }
        return (webAccess.viewer(web, store: store, logger: logger) { router in operations?.add(to: router) }, store)
    }

    /// The `--metrics` listener.
    func metricsListener(_ operations: OperationsRoutes?, logger: Logger) -> (any Service)? {
        guard let metrics, let operations else { return nil }
        return MetricsListener.application(routes: operations, settings: webAccess.settings(metrics), logger: logger) { port in
            logger.notice("metrics on http://\(HostPort(host: metrics.host, port: port))/metrics")
        }
    }

    /// The recorder, or nil with --no-record. A store that cannot be used is one line and exit 2.
    private func openRecorder(logger: Logger) async throws -> (any RecordingSink)? {
        guard !noRecord else { return nil }
        // Past a file-size limit (ulimit -f) a write must fail with an error the store reports,
        // not kill the process: what it held is then simply not acknowledged.
        signal(SIGXFSZ, SIG_IGN)
        var settings = RecorderSettings()
        settings.durability = durability
        settings.busyTimeoutMilliseconds = busyTimeout.milliseconds
        settings.recorderName = recorderName
        settings.onDamage = { _ in DamagedStore.shared.report() }
        try redaction.apply(to: &settings)
        return try await reportingErrors {
            let location = try database.location
            let sink = try await location.openRecorder(settings, logger: logger)
            // The name may hold anything (ESC, bidi overrides): it reaches a terminal escaped, as `show` prints it.
            logger.info("recording to \(location) as recorder '\(Escaping.escape(Array(recorderName.utf8)))'")
            logger.info("\(Redactor.inForce(sink.redactor))")
            return sink
        }
    }

    /// Makes the server with the recorder it needs, holding `listen` and `--web` first: a port
    /// in use is one line naming it and exit 2, and creates no database.
    /// With `handOver`, the server's `ListeningServer` takes over the socket held for `listen`
    /// (`HeldListeners`); a server that binds `listen` some other way passes false.
    func makeServer<S: RecordingServer>(listen: HostPort, extra: [Listener] = [], handOver: Bool = true, logger: Logger,
                                        _ make: ((any RecordingSink)?) -> S) async throws -> PreparedServer<S> {
        let reservations = try (listeners(listen) + extra).map { listener in
            do {
                return try PortReservation(listener.address)
            } catch {
                printError(ListenFailure(listener, error).description)
                throw ExitCode(2)
            }
        }
        if let warning = exposureWarning(listen) { logger.warning("\(warning)") }
        // Before the recorder opens: it makes its counters as it starts.
        let registry = metrics == nil ? nil : MetricsRegistry.bootstrap()
        let sink = try await openRecorder(logger: logger)
        let server = make(sink)
        // `listen` is the server's own: it serves whoever connected while the store opened.
        if handOver { reservations.first?.handOver() }
        for reservation in reservations.dropFirst(handOver ? 1 : 0) { reservation.release() }
        let readiness = Readiness(recorder: sink as? any HealthReporting)
        return PreparedServer(server: server, readiness: readiness,
                              operations: registry.map { OperationsRoutes(registry: $0, readiness: readiness) })
    }

    /// Where this process listens: `listen`, then `--web` and `--metrics` if given.
    func listeners(_ listen: HostPort) -> [Listener] {
        [Listener(address: listen, role: nil)] + (web.map { [Listener(address: $0, role: "the web viewer (--web)")] } ?? [])
            + (metrics.map { [Listener(address: $0, role: "the metrics (--metrics)")] } ?? [])
    }
}

/// A recording server, and with `--metrics` the routes that report on it.
struct PreparedServer<S: RecordingServer> {
    let server: S
    let readiness: Readiness
    let operations: OperationsRoutes?
}

/// What to warn about an address that other machines can reach, or nil for loopback.
func exposureWarning(_ listen: HostPort) -> String? {
    switch listen.host {
    case "0.0.0.0", "::", "[::]", "*":
        return "listening on \(listen) accepts connections from every network this machine is on, and records them; use 127.0.0.1 unless that is meant"
    case "localhost", "::1":
        return nil
    default:
        if listen.host.hasPrefix("127.") { return nil }
        return "listening on \(listen) accepts connections from other machines on that network, and records them"
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
/// `grace`, record everything, exit 0. A second SIGINT (Ctrl-C) stops at once, exit 130.
/// `recording`'s `--web` viewer, if any, runs beside it and stops with it.
func runUntilSignalled(_ prepared: PreparedServer<some RecordingServer>, recording: RecordingOptions, listen: HostPort,
                       extra: [(service: any Service, listener: Listener)] = [], logger: Logger) async throws {
    let listeners = recording.listeners(listen)
    let service = RecordingService(server: prepared.server, readiness: prepared.readiness,
                                   grace: .microseconds(recording.shutdownGrace.microseconds), logger: logger)
    let viewer = try recording.webViewer(operations: prepared.operations, logger: logger)
    let metrics = recording.metricsListener(prepared.operations, logger: logger)
    let group = ServiceGroup(configuration: .init(
        services: [.init(service: NamingFailures(service: service, listener: listeners[0]))]
            + (viewer.map { [.init(service: NamingFailures(service: $0.service, listener: listeners[1]))] } ?? [])
            + (metrics.map { [.init(service: NamingFailures(service: $0, listener: listeners[listeners.count - 1]))] } ?? [])
            + extra.map { .init(service: NamingFailures(service: $0.service, listener: $0.listener)) },
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger))
    DamagedStore.shared.whenReported { Task { await group.triggerGracefulShutdown() } }
    do {
        try await group.run()
    } catch {
        await viewer?.store.close()
        printError((error as? ListenFailure ?? ListenFailure(listeners[0], error)).description)
        throw ExitCode(2)
    }
    await viewer?.store.close()
    // The recorder logged what was damaged; the exit status says recording did not end well.
    if DamagedStore.shared.wasReported { throw ExitCode(1) }
}

/// An address this process listens on, and what for when it is not the server itself.
struct Listener {
    let address: HostPort
    let role: String?
}

/// Listening failed: `cannot listen on 127.0.0.1:8080 for the web viewer (--web): address already in use`.
struct ListenFailure: Error, CustomStringConvertible {
    let listener: Listener
    let error: any Error

    init(_ listener: Listener, _ error: any Error) {
        self.listener = listener
        self.error = error
    }

    var description: String {
        "cannot listen on \(listener.address)\(listener.role.map { " for \($0)" } ?? ""): \(NetworkErrorText.reason(error))"
    }
}

/// A service whose failure names the address it listens on (the group reports the first).
private struct NamingFailures: Service {
    let service: any Service
    let listener: Listener

    func run() async throws {
        do {
            try await service.run()
        } catch {
            throw ListenFailure(listener, error)
        }
    }
}

/// A store found damaged while recording (the recorder logs it once): `serve` and `proxy` stop,
/// as they would on SIGTERM, and exit 1, rather than refuse every command from then on.
final class DamagedStore: @unchecked Sendable {
    static let shared = DamagedStore()
    private let lock = NSLock()
    private var reported = false
    private var action: (@Sendable () -> Void)?

    func report() {
        let action: (@Sendable () -> Void)? = lock.withLock {
            guard !reported else { return nil }
            reported = true
            return self.action
        }
        action?()
    }

    /// Runs `action` once, when a damage is reported (at once if it already was).
    func whenReported(_ action: @escaping @Sendable () -> Void) {
        let now = lock.withLock {
            self.action = action
            return reported
        }
        if now { action() }
    }

    var wasReported: Bool { lock.withLock { reported } }
}

private struct RecordingService<S: RecordingServer>: Service {
    let server: S
    let readiness: Readiness
    let grace: TimeAmount
    let logger: Logger

    func run() async throws {
        do {
            _ = try await server.start()
        } catch {
            await server.shutdownGracefully(grace: .zero)
            throw error
        }
        readiness.listening()
        try? await gracefulShutdown()
        // The first SIGINT started this shutdown (and the signal stays ignored); the next one ends the process.
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        interrupt.setEventHandler { [logger] in
            logger.warning("interrupted again: stopping at once; connections still open are cut and their sessions stay open, as after a crash")
            exit(130)
        }
        await withCheckedContinuation { (registered: CheckedContinuation<Void, Never>) in
            interrupt.setRegistrationHandler { registered.resume() }
            interrupt.resume()
        }
        await server.shutdownGracefully(grace: grace)
        interrupt.cancel()
    }
}
