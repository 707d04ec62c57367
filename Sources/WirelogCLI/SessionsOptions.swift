import ArgumentParser
import Foundation
import Backends
import LabProtocol
import Presentation
import Protocols
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
        var arguments = openSessions.arguments
        arguments.reason = reason
        return try arguments.filter(nowMicros: nowMicros)
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

    @Option(help: ArgumentHelp("Sessions recorded by: server, proxy, replay or mock.", valueName: "kind"))
    var kind: String?

    @Option(help: ArgumentHelp("Sessions made by the recorder of this name (serve/proxy --recorder-name).", valueName: "name"))
    var recorder: String?

    @Option(help: ArgumentHelp("Sessions with a client command of this verb (any case).", valueName: "verb"))
    var verb: String?

    @Option(help: ArgumentHelp("Sessions with a server reply of this code.", valueName: "code"))
    var code: Int?

    var arguments: SessionFilterArguments {
        SessionFilterArguments(since: since, until: until, client: client, kind: kind, recorder: recorder,
                               verb: verb, code: code.map(String.init))
    }

    /// The filter, with relative times taken from `nowMicros`.
    func filter(nowMicros: Int64 = WallClock.nowMicros()) throws -> SessionFilter {
        try arguments.filter(nowMicros: nowMicros)
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
    } catch let error as InputError {
        printError("\(error)")
        throw ExitCode(2)
    }
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

/// The filters on what a session's protocol decoder read (docs/PROTOCOLS.md): list, search and stats.
struct ProtocolFilterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Sessions cut by this protocol: \(WireProtocols.names.dropFirst().joined(separator: ", ")).", valueName: "protocol"))
    var decoding: String?

    @Option(help: ArgumentHelp("Sessions with an HTTP request of this method (any case).", valueName: "method"))
    var method: String?

    @Option(help: ArgumentHelp("Sessions with a RESP command of this name (any case).", valueName: "command"))
    var command: String?

    @Option(help: ArgumentHelp("Sessions with an HTTP response of this status, or of this class (5xx).", valueName: "status"))
    var status: String?

    @Option(help: ArgumentHelp("Sessions with an HTTP request target starting with this, or matching it as a glob (* ? […]).", valueName: "path"))
    var path: String?

    @Option(help: ArgumentHelp("Sessions with a PostgreSQL error of this SQLSTATE (42P01).", valueName: "code"))
    var sqlstate: String?

    @Option(help: ArgumentHelp("Sessions with a message whose decoded field NAME has this value (repeatable; docs/PROTOCOLS.md lists the fields).", valueName: "name=value"))
    var field: [String] = []

    @Option(help: ArgumentHelp("Sessions with an exchange (request to its response) that took longer than this (\(TimeSpan.forms)).", valueName: "time"))
    var slowerThan: TimeSpan?

    var arguments: ProtocolFilterArguments {
        ProtocolFilterArguments(decoding: decoding, method: method, command: command, status: status, path: path,
                                sqlstate: sqlstate, fields: field, slowerThan: slowerThan.map { "\($0.microseconds)us" })
    }

    func validate() throws {
        do {
            _ = try arguments.narrowing(SessionFilter(), protocols: Array(WireProtocols.names.dropFirst()))
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// `filter` narrowed by these options; a verb from --method/--command must agree with --verb.
    func narrowing(_ filter: SessionFilter) throws -> SessionFilter {
        do {
            return try arguments.narrowing(filter, protocols: Array(WireProtocols.names.dropFirst()))
        } catch {
            throw QueryError.usage(error.description)
        }
    }
}
