import Faults
import Logging
import NIOCore
import Presentation
import Proxy
import Recording

/// The proxies of `wirelog proxy --api`, by name, as toxiproxy's ProxyCollection: created,
/// changed, disabled and deleted over the API (or from `--faults FILE`), each a recording proxy
/// with its own `FaultSet`, all recording into the one recorder. Changes are serialised (an
/// actor); a change to one proxy never touches another's connections.
public actor ProxyFleet {
    /// One proxy as the API shows it.
    public struct Entry: Sendable {
        public var name: String
        public var listen: String
        public var upstream: String
        public let faults: FaultSet
        var server: ProxyServer?
        /// Whether it listens: a disabled proxy keeps its toxics but has no server.
        public var enabled: Bool { server != nil }

        /// toxiproxy's proxy JSON, toxics included.
        public var json: String {
            "{\"name\":\(JSONText.quoted(name)),\"listen\":\(JSONText.quoted(listen)),\"upstream\":\(JSONText.quoted(upstream)),"
                + "\"enabled\":\(enabled),\"toxics\":[\(faults.toxics.map(\.json).joined(separator: ","))]}"
        }
    }

    /// What a new proxy is asked to be (`POST /proxies`, an element of `/populate`).
    public struct Request: Sendable {
        public var name: String
        public var listen: String
        public var upstream: String
        public var enabled = true
        /// wirelog's: toxics the proxy starts with (`--faults FILE`, `/populate`).
        public var toxics: [Toxic] = []

        public init(name: String, listen: String, upstream: String, enabled: Bool = true, toxics: [Toxic] = []) {
            self.name = name
            self.listen = listen
            self.upstream = upstream
            self.enabled = enabled
            self.toxics = toxics
        }
    }

    private var entries: [String: Entry] = [:]
    /// Who each proxy's sessions say recorded them: its name, or `--recorder-name` for the startup one.
    private var recorderNames: [String: String] = [:]
    /// Servers stopped while the recorder runs: their event loops stop after it (`shutdown`).
    private var retired: [ProxyServer] = []
    private let template: ProxyConfiguration
    private let sink: (any RecordingSink)?
    private let logger: Logger

    /// `template` holds what every proxy shares (decoding, limits, TLS); each gets its own
    /// addresses, name and fault set, and records under its name as the recorder's.
    public init(template: ProxyConfiguration, sink: (any RecordingSink)?, logger: Logger) {
        self.template = template
        self.sink = sink
        self.logger = logger
    }

    /// By name, as toxiproxy lists them (its JSON map has sorted keys).
    public var all: [Entry] { entries.values.sorted { $0.name < $1.name } }

    public func entry(_ name: String) throws(FaultError) -> Entry {
        guard let entry = entries[name] else { throw .proxyNotFound }
        return entry
    }

    /// `POST /proxies`: a name already used is 409, a listen address in use 500 (as toxiproxy).
    public func create(_ request: Request, recorderName: String? = nil) async throws(FaultError) -> Entry {
        guard entries[request.name] == nil else { throw .proxyAlreadyExists }
        return try await add(request, recorderName: recorderName)
    }

    /// `POST /populate`: every proxy checked before any changes; one with the same name and
    /// addresses is kept as it is, one with other addresses replaced.
    public func populate(_ requests: [Request]) async throws(FaultError) -> [Entry] {
        var names = Set<String>()
        for request in requests {
            guard names.insert(request.name).inserted else { throw FaultError("duplicate proxy name \"\(request.name)\"", status: 500) }
            try Self.check(request)
        }
        var result: [Entry] = []
        for request in requests {
            if let existing = entries[request.name] {
                if existing.listen == request.listen && existing.upstream == request.upstream {
                    result.append(existing)
                    continue
                }
                await stop(existing.name)
                entries[request.name] = nil
            }
            result.append(try await add(request, recorderName: nil))
        }
        return result
    }

    /// `PATCH /proxies/{proxy}`: new addresses restart it; `enabled` starts or stops it.
    public func update(_ name: String, listen: String?, upstream: String?, enabled: Bool?) async throws(FaultError) -> Entry {
        var entry = try entry(name)
        let listen = listen ?? entry.listen, upstream = upstream ?? entry.upstream, enabled = enabled ?? entry.enabled
        if listen != entry.listen || upstream != entry.upstream {
            try Self.check(Request(name: name, listen: listen, upstream: upstream))
            await stop(name)
            entry = entries[name]!
            entry.listen = listen
            entry.upstream = upstream
            entries[name] = entry
        }
        if enabled && entries[name]?.enabled == false {
            try await start(name)
        } else if !enabled {
            await stop(name)
        }
        return entries[name]!
    }

    /// `DELETE /proxies/{proxy}`: its listener and connections close.
    public func delete(_ name: String) async throws(FaultError) {
        _ = try entry(name)
        await stop(name)
        entries[name] = nil
        recorderNames[name] = nil
    }

    /// `POST /reset`: every proxy enabled, every toxic removed.
    public func reset() async throws(FaultError) {
        for entry in all {
            entry.faults.removeAll()
            if entries[entry.name]?.enabled == false { try await start(entry.name) }
        }
    }

    /// Ends every proxy's connections within `grace`, then the recorder, then the event loops.
    public func shutdown(grace: TimeAmount) async {
        for name in entries.keys { await stop(name, grace: grace) }
        await sink?.shutdown()
        for server in retired { await server.stopEventLoops() }
        retired = []
    }

    // MARK: Starting and stopping

    private func add(_ request: Request, recorderName: String?) async throws(FaultError) -> Entry {
        try Self.check(request)
        let faults = FaultSet()
        for toxic in request.toxics { try faults.add(toxic) }
        entries[request.name] = Entry(name: request.name, listen: request.listen, upstream: request.upstream, faults: faults)
        recorderNames[request.name] = recorderName ?? request.name
        if request.enabled {
            do throws(FaultError) {
                try await start(request.name)
            } catch {
                entries[request.name] = nil
                throw error
            }
        }
        return entries[request.name]!
    }

    private func start(_ name: String) async throws(FaultError) {
        guard var entry = entries[name] else { throw .proxyNotFound }
        let listen = try Self.address(entry.listen, "listen"), upstream = try Self.address(entry.upstream, "upstream")
        var configuration = template
        configuration.name = name
        configuration.recorderName = recorderNames[name] ?? name
        configuration.listenHost = listen.host
        configuration.listenPort = listen.port
        configuration.upstreamHost = upstream.host
        configuration.upstreamPort = upstream.port
        configuration.faults = entry.faults
        let server = ProxyServer(configuration: configuration, sink: sink, logger: logger)
        do {
            let bound = try await server.start()
            entry.listen = HostPort(host: bound.ipAddress ?? listen.host, port: bound.port ?? listen.port).description
        } catch {
            await server.stopEventLoops()
            throw FaultError("listen tcp \(entry.listen): \(NetworkErrorText.reason(error))", status: 500)
        }
        entry.server = server
        entries[name] = entry
    }

    private func stop(_ name: String, grace: TimeAmount = .zero) async {
        guard var entry = entries[name], let server = entry.server else { return }
        entry.server = nil
        entries[name] = entry
        await server.drain(grace: grace)
        retired.append(server)
    }

    private static func check(_ request: Request) throws(FaultError) {
        guard !request.name.isEmpty else { throw .missingField("name") }
        guard !request.upstream.isEmpty else { throw .missingField("upstream") }
        _ = try address(request.listen, "listen")
        guard try address(request.upstream, "upstream").port > 0 else { throw .badRequestBody("upstream needs a port other than 0") }
    }

    /// `host:port` as toxiproxy's clients write it (`[::1]:0`, `localhost:6379`). An empty host,
    /// which Go binds on every interface, is loopback here: wirelog listens beyond this machine
    /// only where an address says so.
    private static func address(_ text: String, _ field: String) throws(FaultError) -> HostPort {
        guard let address = HostPort(argument: text) else {
            throw .badRequestBody("\(field) must be host:port (or [IPv6]:port), not \"\(text)\"")
        }
        return address
    }
}
