import ArgumentParser
import Backends
import Foundation
import Logging
import Operations
import Presentation

/// Where the recordings live: `--db`, else `WIRELOG_DB`, else `wirelog.sqlite` here.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The store: a SQLite file, or postgres://USER@HOST[:PORT]/DATABASE (default: $WIRELOG_DB or ./wirelog.sqlite).",
        valueName: "path|url"))
    var db: String?

    /// What `--db` (or the environment) names, before it is checked.
    var text: String {
        if let db { return db }
        if let fromEnvironment = ProcessInfo.processInfo.environment["WIRELOG_DB"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return "wirelog.sqlite"
    }

    /// The store `--db` names. Checked by `validate`, so commands can rely on it.
    var location: StoreLocation {
        get throws { try StoreLocation(text, option: db != nil ? "--db" : "WIRELOG_DB") }
    }

    /// A store that `--db` cannot name is one line and exit 2, before anything is opened.
    func validate() throws {
        do {
            _ = try location
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
    }
}

struct LoggingOptions: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(name: .long, help: "text: plain lines; json: one JSON object per line (time, level, label, message, metadata).")
    var logFormat: Format = .text

    /// Logs go to standard error, one line each.
    func makeLogger(label: String) -> Logger {
        let level = logLevel
        let format = logFormat
        var logger = Logger(label: label) { label in
            var handler: any LogHandler = format == .json
                ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        logger.logLevel = level
        return logger
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Address options read `HOST:PORT` with `transform: HostPort.parse`, so a value without a port
/// says what is expected.
extension HostPort {
    /// The value of an address option, or an error that says what is expected.
    static func parse(_ argument: String) throws -> HostPort {
        guard let value = HostPort(argument: argument) else {
            throw ValidationError("HOST:PORT is expected, with a port from 0 to 65535: e.g. 127.0.0.1:7070, or [::1]:7070 for IPv6")
        }
        return value
    }
}

extension TimeSpan: ExpressibleByArgument {}

/// Prints `message` on standard error as `wirelog: message`.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("wirelog: \(message)\n".utf8))
}

/// The one progress line on a terminal's standard error, redrawn in place.
enum ProgressLine {
    static func show(_ text: String) {
        FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
    }

    static func clear() {
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
