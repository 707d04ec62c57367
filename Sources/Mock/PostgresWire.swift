import Protocols
import Replay

/// The PostgreSQL backend messages the mock writes itself rather than repeats: a login (a
/// recorded one cannot be repeated: its challenge and keys belong to another connection), the
/// refusal of TLS, and the error a miss gets.
enum PostgresWire {
    /// Client turns of the login, which the mock answers itself.
    static func isLoginVerb(_ verb: String?) -> Bool {
        guard let verb else { return false }
        return ["StartupMessage", "SSLRequest", "GSSENCRequest", "CancelRequest", "PasswordMessage",
                "SASLInitialResponse", "SASLResponse"].contains(verb)
    }

    /// The answer to an SSLRequest or GSSENCRequest: not here (the client goes on in the clear).
    static let refusal: [UInt8] = [UInt8(ascii: "N")]

    /// AuthenticationOk, the parameters and key data, ReadyForQuery idle: a login with no password
    /// (any user, trust).
    static func login(_ parameters: [UInt8]) -> [UInt8] {
        PostgresProtocol.message("R", PostgresProtocol.int32(0)) + parameters + PostgresProtocol.readyForQuery
    }

    /// The SQLSTATE of a miss: feature_not_supported (what was asked is not in the recordings).
    static let missSQLState = "0A000"

    /// The ParameterStatus and BackendKeyData messages of a recorded login (its server messages
    /// up to the first ReadyForQuery); nil when the recording holds none.
    static func loginMessages(in replies: [MockScript.Reply]) -> [UInt8]? {
        var found: [UInt8] = []
        for reply in replies where reply.raw.count > 1 {
            for message in PostgresMessages.typed(reply.raw) ?? [] {
                if message.type == UInt8(ascii: "Z") { return found.isEmpty ? nil : found }
                if message.type == UInt8(ascii: "S") || message.type == UInt8(ascii: "K") { found += message.whole }
            }
        }
        return found.isEmpty ? nil : found
    }

    /// What a login reports when no recorded one says: what libpq and pgbench read.
    static let defaultLoginMessages: [UInt8] =
        [("server_version", "16.0 (wirelog mock)"), ("server_encoding", "UTF8"), ("client_encoding", "UTF8"),
         ("DateStyle", "ISO, MDY"), ("integer_datetimes", "on"), ("standard_conforming_strings", "on"),
         ("TimeZone", "UTC")].flatMap { name, value in
            PostgresProtocol.message("S", Array(name.utf8) + [0] + Array(value.utf8) + [0])
        } + PostgresProtocol.message("K", PostgresProtocol.int32(1) + PostgresProtocol.int32(1))
}
