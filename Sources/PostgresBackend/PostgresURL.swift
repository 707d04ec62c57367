import Foundation
import Recording

/// A PostgreSQL store's address: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…]`
/// (`postgresql://` too). A password not in the URL comes from `PGPASSWORD`, then `~/.pgpass`.
/// Its description never shows the password.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, prefer, require
    }

    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var sslMode: SSLMode

    public static let schemes = ["postgres", "postgresql"]

    /// Nil when `text` is not a postgres URL at all; throws when it is one but malformed.
    public init?(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                 passwordFile: String? = nil) throws(PostgresStoreError) {
        guard let schemeEnd = text.range(of: "://"), Self.schemes.contains(text[..<schemeEnd.lowerBound].lowercased()) else {
            return nil
        }
        let masked = Self.masked(text)
        // Checked on the text as typed: URLComponents would take a stray % for a literal one.
        if let part = Self.partWithStrayPercent(text) {
            throw .badURL(masked, reason: "the \(part) has a % that is not followed by two hex digits (write a % as %25)")
        }
        guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
            throw .badURL(masked, reason: "expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        /// A part as typed, its percent-escapes decoded once: one that is not text is an error, not a part left out.
        func decoded(_ part: String?, _ what: String) throws(PostgresStoreError) -> String? {
            guard let part else { return nil }
            guard let value = part.removingPercentEncoding else {
                throw .badURL(masked, reason: "the \(what) has percent-escapes that are not UTF-8 text")
            }
            return value
        }
        guard let user = try decoded(components.percentEncodedUser, "user name"), !user.isEmpty else {
            throw .badURL(masked, reason: "it names no user (postgres://USER@HOST/DATABASE)")
        }
        let database = try decoded(String(components.percentEncodedPath.dropFirst()), "database name") ?? ""
        guard !database.isEmpty, !database.contains("/") else {
            throw .badURL(masked, reason: "it names no database (postgres://USER@HOST/DATABASE)")
        }
        var sslMode = SSLMode.prefer
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode" else {
                throw .badURL(masked, reason: "unknown parameter '\(item.name)' (only sslmode is understood)")
            }
            guard let mode = item.value.flatMap(SSLMode.init(rawValue:)) else {
                throw .badURL(masked, reason: "sslmode must be disable, prefer or require")
            }
            sslMode = mode
        }
        self.user = user
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 5432
        self.database = database
        self.sslMode = sslMode
        self.password = try decoded(components.percentEncodedPassword, "password")
            ?? environment["PGPASSWORD"]
            ?? Self.passwordFromFile(passwordFile ?? environment["PGPASSFILE"] ?? NSHomeDirectory() + "/.pgpass",
                                     host: self.host, port: port, database: database, user: user)
    }

    /// `postgres://USER@HOST:PORT/DATABASE`, with `***` where a password was given.
    public var description: String {
        let hostText = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)\(password == nil ? "" : ":***")@\(hostText):\(port)/\(database)"
    }

    /// The URL as typed with its password (if any) replaced by `***`: for messages about a URL
    /// that could not be read.
    public static func masked(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://"), let at = text.range(of: "@", range: schemeEnd.upperBound..<text.endIndex),
              let colon = text.range(of: ":", range: schemeEnd.upperBound..<at.lowerBound) else { return text }
        return String(text[..<colon.upperBound]) + "***" + String(text[at.lowerBound...])
    }

    /// Which part of the URL (user name, password, …) holds a `%` without two hex digits after
    /// it; nil when none does. The parts are cut as `masked` cuts them.
    static func partWithStrayPercent(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        func isHex(_ index: Int) -> Bool {
            guard index < bytes.count else { return false }
            return (0x30...0x39).contains(bytes[index]) || (0x61...0x66).contains(bytes[index] | 0x20)
        }
        guard let stray = bytes.indices.first(where: { bytes[$0] == UInt8(ascii: "%") && !(isHex($0 + 1) && isHex($0 + 2)) }) else { return nil }
        let position = text.utf8.index(text.utf8.startIndex, offsetBy: stray)
        guard let schemeEnd = text.range(of: "://"), let at = text.range(of: "@", range: schemeEnd.upperBound..<text.endIndex),
              position < at.lowerBound else { return "host, port or database name" }
        let colon = text.range(of: ":", range: schemeEnd.upperBound..<at.lowerBound)
        return colon.map { position > $0.lowerBound } == true ? "password" : "user name"
    }

    /// libpq's password file: lines `host:port:database:user:password`, `*` matching anything,
    /// `\:` and `\\` escaped; the first matching line wins. Ignored unless only its owner may read it.
    static func passwordFromFile(_ path: String, host: String, port: Int, database: String, user: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & 0o077 == 0,
              let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            var fields: [String] = []
            var current = ""
            var escaped = false
            for character in line {
                if escaped {
                    current.append(character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == ":" && fields.count < 4 {
                    fields.append(current)
                    current = ""
                } else {
                    current.append(character)
                }
            }
            fields.append(current)
            guard fields.count == 5 else { continue }
            let wanted = [host, String(port), database, user]
            if zip(fields, wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }
}
