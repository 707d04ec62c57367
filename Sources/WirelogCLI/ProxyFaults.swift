import ArgumentParser
import Faults
import FaultAPI
import Foundation
import Logging
import NIOCore
import Presentation
import Proxy
import Recording
import ServiceLifecycle
import WebViewer

/// `proxy`'s faults: toxiproxy's API (`--api`), toxics from a file (`--faults`) and one-offs
/// (`--fault`). See docs/FAULTS.md.
struct FaultOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Serve toxiproxy's HTTP API here (toxiproxy-server's is 127.0.0.1:8474): proxies and toxics made and changed live. Without --upstream the proxy starts with no proxies. Beyond loopback it needs the web token.", valueName: "host:port"), transform: HostPort.parse)
    var api: HostPort?

    @Option(help: ArgumentHelp("Proxies and their toxics to start with: a JSON array as toxiproxy's /populate takes, each proxy with an optional \"toxics\" array.", valueName: "file"))
    var faults: String?

    @Option(help: ArgumentHelp("A toxic for the --upstream proxy, e.g. 'latency:latency=100,jitter=10,stream=downstream' (repeatable).", valueName: "type:key=value,…"))
    var fault: [String] = []

    @Option(help: ArgumentHelp("The --upstream proxy's name in the API (its sessions keep --recorder-name).", valueName: "name"))
    var proxyName = "wirelog"

    var isUsed: Bool { api != nil || faults != nil || !fault.isEmpty }

    func validate() throws {
        _ = try oneOffs()
        _ = try filed()
    }

    /// The `--fault` toxics, or the first one's error.
    func oneOffs() throws -> [Toxic] {
        try fault.map { text in
            do throws(FaultError) {
                return try ToxicParsing.oneLiner(text)
            } catch {
                throw ValidationError("--fault '\(text)': \(error.message)")
            }
        }
    }

    /// The `--faults` file's proxies, or one line saying what is wrong with it.
    func filed() throws -> [ProxyFleet.Request] {
        guard let faults else { return [] }
        guard let data = FileManager.default.contents(atPath: faults) else {
            throw ValidationError("--faults \(faults): cannot read it")
        }
        do throws(FaultError) {
            return try FaultAPI.populateRequests(try ToxicParsing.json(Array(data)))
        } catch {
            throw ValidationError("--faults \(faults): \(error.message)")
        }
    }
}

extension ProxyCommand {
    /// The proxy as a fleet of named proxies with toxics: the one of `--listen`/`--upstream` (if
    /// given), those of `--faults`, and those the API makes.
    func runWithFaults(_ configuration: ProxyConfiguration, logger: Logger) async throws {
        let oneOffs = try faultOptions.oneOffs()
        let filed = try faultOptions.filed()
        var template = configuration
        // One loop per proxy unless told: a test suite may make dozens.
        template.eventLoopThreads = threads ?? 1
        let api = faultOptions.api.map { Listener(address: $0, role: "the toxiproxy API (--api)") }
        let startup = upstream.map {
            ProxyFleet.Request(name: faultOptions.proxyName, listen: listen.description, upstream: $0.description, toxics: oneOffs)
        }
        let main = startup == nil ? api!.address : listen
        // `--listen`'s proxy takes its held socket over; the API (Hummingbird) binds its own address.
        let prepared = try await recording.makeServer(listen: main, extra: startup == nil ? [] : api.map { [$0] } ?? [],
                                                      handOver: startup != nil, logger: logger) { sink in
            FleetServer(fleet: ProxyFleet(template: template, sink: sink, logger: logger), startup: startup,
                        recorderName: recording.recorderName, filed: filed)
        }
        var extra: [(service: any Service, listener: Listener)] = []
        if let api {
            let settings = recording.webAccess.settings(api.address)
            if !settings.isLoopback { logger.warning("the toxiproxy API on \(api.address) lets every machine that reaches it and has the token change the proxies") }
            let router = FaultAPI.router(fleet: prepared.server.fleet, settings: settings, version: Wirelog.configuration.version ?? "wirelog")
            let service = WebViewer.application(router: router, settings: settings, logger: logger) { port in
                logger.notice("toxiproxy API on http://\(HostPort(host: api.address.host, port: port))")
            }
            extra.append((service, startup == nil ? recording.listeners(main)[0] : api))
        }
        try await runUntilSignalled(prepared, recording: recording, listen: main, extra: extra, logger: logger)
    }
}

/// The fleet as the recording commands run a server: started, then shut down gracefully.
struct FleetServer: RecordingServer {
    let fleet: ProxyFleet
    let startup: ProxyFleet.Request?
    let recorderName: String
    let filed: [ProxyFleet.Request]

    func start() async throws -> SocketAddress {
        do throws(FaultError) {
            if let startup { _ = try await fleet.create(startup, recorderName: recorderName) }
            if !filed.isEmpty { _ = try await fleet.populate(filed) }
        } catch {
            throw FleetStartFailure(message: error.message)
        }
        // What listens is each proxy's own business; the recording service only waits for it.
        return try SocketAddress(ipAddress: "127.0.0.1", port: 0)
    }

    func shutdownGracefully(grace: TimeAmount) async {
        await fleet.shutdown(grace: grace)
    }
}

struct FleetStartFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
