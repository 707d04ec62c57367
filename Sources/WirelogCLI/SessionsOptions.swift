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

    @Option(parsing: .unconditional, help: ArgumentHelp("Sessions with a server reply of this code.", valueName: "code"))
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

    @Option(parsing: .unconditional, help: ArgumentHelp("Sessions with an exchange (request to its response) that took longer than this (\(TimeSpan.forms)).", valueName: "time"))
    var slowerThan: TimeSpan?

    func validate() throws {
        if let decoding, WireProtocols.named(decoding) == nil {
            throw ValidationError("--decoding: no protocol \"\(decoding)\"; one of \(WireProtocols.names.dropFirst().joined(separator: ", "))")
        }
        if let status, Self.statusRange(status) == nil {
            throw ValidationError("--status takes a status (404) or a class (5xx), not \"\(status)\"")
        }
        if let method, let command, method.uppercased() != command.uppercased() {
            throw ValidationError("--method and --command both name the request's verb; give one")
        }
        for field in field {
            guard let (name, _) = Self.split(field), FieldMatch.isValidName(name) else {
                throw ValidationError("--field takes name=value with a field name of lower-case letters, digits and _ (docs/PROTOCOLS.md), not \"\(field)\"")
            }
        }
    }

    /// `filter` narrowed by these options; a verb from --method/--command must agree with --verb.
    func narrowing(_ filter: SessionFilter) throws -> SessionFilter {
        var filter = filter
        filter.decoding = decoding
        if let verb = method ?? command {
            if let given = filter.verb, given.uppercased() != verb.uppercased() {
                throw QueryError.usage("--verb \(given) and --\(method != nil ? "method" : "command") \(verb) cannot both hold: give one")
            }
            filter.verb = verb
        }
        if let status, let range = Self.statusRange(status) {
            if range.count == 1 { filter.replyCode = range.lowerBound } else { filter.replyCodeRange = range }
        }
        if let path {
            let isGlob = path.contains { "*?[".contains($0) }
            filter.fields.append(FieldMatch(name: "target", .glob(isGlob ? path : Self.globEscaped(path) + "*")))
        }
        if let sqlstate { filter.fields.append(FieldMatch(name: "sqlstate", .equals(sqlstate.uppercased()))) }
        for field in field {
            if let (name, value) = Self.split(field) { filter.fields.append(FieldMatch(name: name, .equals(value))) }
        }
        filter.slowerThanMicros = slowerThan?.microseconds
        return filter
    }

    /// `404` or `5xx`.
    static func statusRange(_ text: String) -> ClosedRange<Int>? {
        let lower = text.lowercased()
        if lower.count == 3, lower.hasSuffix("xx"), let digit = Int(lower.prefix(1)), (1...5).contains(digit) {
            return (digit * 100)...(digit * 100 + 99)
        }
        guard let code = Int(text), (100...999).contains(code) else { return nil }
        return code...code
    }

    private static func split(_ field: String) -> (String, String)? {
        guard let equals = field.firstIndex(of: "=") else { return nil }
        return (String(field[..<equals]), String(field[field.index(after: equals)...]))
    }

    /// A literal for GLOB: each special character in a class of its own.
    private static func globEscaped(_ text: String) -> String {
        text.map { "*?[".contains($0) ? "[\($0)]" : String($0) }.joined()
    }
}
