import ArgumentParser
import Backends
import Foundation
import Logging

/// Where the recordings live: `--db`, else `WIRELOG_DB`, else `wirelog.sqlite` here.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Store to record into or read from: a SQLite file, or postgres://USER@HOST[:PORT]/DATABASE (default: $WIRELOG_DB or ./wirelog.sqlite).",
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
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    /// Logs go to standard error, one line each.
    func makeLogger(label: String) -> Logger {
        let level = logLevel
        var logger = Logger(label: label) { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        logger.logLevel = level
        return logger
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `HOST:PORT`, `[v6]:PORT`, or a bare `PORT` (loopback). Options read it with
/// `transform: HostPort.parse`, so a value without a port says what is expected.
struct HostPort: CustomStringConvertible, Sendable, Equatable {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces)
        if let port = Int(text) {
            self.init(host: "127.0.0.1", port: port)
        } else if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()) else { return nil }
            self.init(host: host, port: port)
        } else if let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") {
            guard let port = Int(text[text.index(after: colon)...]) else { return nil }
            let host = String(text[..<colon])
            self.init(host: host.isEmpty ? "127.0.0.1" : host, port: port)
        } else {
            return nil
        }
        guard (0...65535).contains(port), !host.isEmpty else { return nil }
    }

    /// The value of an address option, or an error that says what is expected.
    static func parse(_ argument: String) throws -> HostPort {
        guard let value = HostPort(argument: argument) else {
            throw ValidationError("HOST:PORT is expected, with a port from 0 to 65535: e.g. 127.0.0.1:7070, or [::1]:7070 for IPv6")
        }
        return value
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A length of time: `250ms`, `5s`, `2m`, `1h`, `3d`; a bare number is seconds.
struct TimeSpan: ExpressibleByArgument, CustomStringConvertible, Sendable, Equatable {
    var microseconds: Int64

    /// How a length of time is written, for help texts.
    static let forms = "250ms, 5s, 2m, 1h, 3d; a bare number is seconds"

    init(microseconds: Int64) { self.microseconds = microseconds }

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(suffix: String, micros: Double)] = [
            ("ms", 1_000), ("us", 1), ("µs", 1), ("s", 1_000_000), ("m", 60_000_000), ("h", 3_600_000_000), ("d", 86_400_000_000),
        ]
        for unit in units where text.hasSuffix(unit.suffix) {
            guard let value = Double(text.dropLast(unit.suffix.count)), value >= 0, value.isFinite else { return nil }
            self.init(microseconds: Int64(value * unit.micros))
            return
        }
        guard let seconds = Double(text), seconds >= 0, seconds.isFinite else { return nil }
        self.init(microseconds: Int64(seconds * 1_000_000))
    }

    var milliseconds: Int64 { microseconds / 1_000 }

    var description: String {
        if microseconds % 86_400_000_000 == 0 && microseconds > 0 { return "\(microseconds / 86_400_000_000)d" }
        if microseconds % 1_000_000 == 0 { return "\(microseconds / 1_000_000)s" }
        return "\(microseconds / 1_000)ms"
    }
}

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
