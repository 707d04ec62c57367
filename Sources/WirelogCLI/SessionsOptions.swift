import ArgumentParser
import Foundation
import Backends
import LabProtocol
import Recording

/// Failures of a sessions command that are the user's to fix, printed as one line.
enum QueryError: Error, CustomStringConvertible {
    case usage(String)

    var description: String {
        switch self {
        case .usage(let message): message
        }
    }
}

/// The filters of list, search, stats and replay: those of follow, and how sessions ended.
struct SessionFilterOptions: ParsableArguments {
    @OptionGroup var openSessions: OpenSessionFilterOptions

    @Option(help: ArgumentHelp("Sessions that ended this way (quit, client_closed, idle_timeout, …), or open.", valueName: "reason"))
    var reason: String?

    /// The filter, with relative times taken from `nowMicros`.
    func filter(nowMicros: Int64 = WallClock.nowMicros()) throws -> SessionFilter {
        var filter = try openSessions.filter(nowMicros: nowMicros)
        if let reason {
            let known = EndReason.allCases.map(\.rawValue) + [SessionFilter.openReason]
            guard known.contains(reason) else {
                throw QueryError.usage("unknown --reason '\(reason)': use one of \(known.joined(separator: ", "))")
            }
            filter.endReason = reason
        }
        return filter
    }
}

/// The TLS filters of list, search and stats (replay's --tls and --sni are about its own connection).
struct TLSFilterOptions: ParsableArguments {
    @Flag(name: .customLong("tls"), help: "Sessions with TLS on either leg.")
    var withTLS = false

    @Option(name: .customLong("sni"), help: ArgumentHelp("Sessions whose client asked for this server name (SNI), or that wirelog sent it upstream.", valueName: "name"))
    var serverName: String?

    func narrowing(_ filter: SessionFilter) -> SessionFilter {
        var filter = filter
        filter.tls = withTLS
        filter.serverName = serverName
        return filter
    }
}

/// The filters that apply to sessions still being recorded (all but --reason): follow's.
struct OpenSessionFilterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Sessions that started at or after this time: ISO 8601 (local time unless it has Z or an offset) or a time ago (15m, 2h, 3d).", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Sessions that started before this time (same forms as --since).", valueName: "time"))
    var until: String?

    @Option(help: ArgumentHelp("Sessions from this client address, with or without its port.", valueName: "addr[:port]"))
    var client: String?

    @Option(help: ArgumentHelp("Sessions recorded by: server, proxy or replay.", valueName: "kind"))
    var kind: String?

    @Option(help: ArgumentHelp("Sessions made by the recorder of this name (serve/proxy --recorder-name).", valueName: "name"))
    var recorder: String?

    @Option(help: ArgumentHelp("Sessions with a client command of this verb (any case).", valueName: "verb"))
    var verb: String?

    @Option(help: ArgumentHelp("Sessions with a server reply of this code.", valueName: "code"))
    var code: Int?

    /// The filter, with relative times taken from `nowMicros`.
    func filter(nowMicros: Int64 = WallClock.nowMicros()) throws -> SessionFilter {
        var filter = SessionFilter()
        filter.sinceMicros = try since.map { try TimeArgument.parse($0, nowMicros: nowMicros) }
        filter.untilMicros = try until.map { try TimeArgument.parse($0, nowMicros: nowMicros) }
        if let client {
            let (host, port) = try Self.parseClient(client)
            filter.clientHost = host
            filter.clientPort = port
        }
        if let kind {
            guard let parsed = SessionKind(rawValue: kind.lowercased()) else {
                throw QueryError.usage("unknown --kind '\(kind)': use server, proxy or replay")
            }
            filter.kind = parsed
        }
        filter.recorder = recorder
        filter.verb = verb
        filter.replyCode = code
        return filter
    }
    /// `127.0.0.1`, `127.0.0.1:5000`, `::1`, `[::1]:5000`.
    static func parseClient(_ text: String) throws -> (String, Int?) {
        if let hostPort = HostPort(argument: text), text.contains(":"), !text.hasPrefix(":") {
            return (hostPort.host, hostPort.port)
        }
        let host = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
        guard !host.isEmpty, !host.contains(" ") else {
            throw QueryError.usage("cannot read --client '\(text)': use ADDR or ADDR:PORT ([v6]:PORT for IPv6)")
        }
        return (host, nil)
    }
}

/// Opens the store (read-only unless `access` is `.write`) and runs `body`; expected failures
/// become one line on standard error: exit 1 for a session that does not exist, 2 for the rest.
func withStore<T>(_ options: DatabaseOptions, _ access: StoreAccess = .read,
                  _ body: (any RecordingStore) async throws -> T) async throws -> T {
    try await reportingErrors {
        try await options.location.withStore(access, body)
    }
}

func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as RecordingError {
        printError("\(error)")
        throw ExitCode(1)
    } catch let error as any StoreFailure {
        printError("\(error)")
        throw ExitCode(2)
    } catch let error as QueryError {
        printError("\(error)")
        throw ExitCode(2)
    }
}

/// `127.0.0.1:5000` (IPv6 in brackets), escaped: addresses come from the recording.
func endpoint(_ host: String, _ port: Int) -> String {
    let escaped = Escaping.escape(Array(host.utf8))
    return host.contains(":") ? "[\(escaped)]:\(port)" : "\(escaped):\(port)"
}

/// Standard output for a command's results; flushed by `flush()` where output must appear now.
enum Output {
    static func write(_ text: String) {
        print(text, terminator: "")
    }

    static func line(_ text: String = "") {
        print(text)
    }

    /// Standard output is fully buffered into a pipe; `follow` must show each message now.
    static func flush() { fflush(nil) }
}
