import Crypto
import _CryptoExtras
import Foundation
import NIOCore
import Protocols

/// A replayed PostgreSQL session logs in afresh: the recorded authentication cannot be sent
/// again (a cleartext password is a token in the store, and MD5 and SCRAM answer a challenge that
/// changes on every connection). The StartupMessage is sent as recorded; the password
/// (`--secret postgres-password=…`) answers the server's own request, cleartext, MD5 or
/// SCRAM-SHA-256; what the server says up to its first ReadyForQuery (its parameters, a new
/// BackendKeyData) is not compared. The rest of the session is compared as usual.
public struct PostgresLogin: Sendable, Equatable {
    /// The steps the login stands for: the one sending the StartupMessage through the one whose
    /// reply holds the first ReadyForQuery.
    public var steps: ClosedRange<Int>
    public var user: String

    /// The rule whose `--secret` is the password.
    public static let passwordRule = "postgres-password"

    /// The login of `plan`, when its session is a PostgreSQL one: a step sends a StartupMessage
    /// (protocol 3.0), the server answers with an Authentication request, and a later reply holds
    /// a ReadyForQuery. Found by its bytes, since redaction changed the lengths of the messages
    /// between (a SCRAM challenge is a token).
    public init?(_ plan: ReplayPlan) {
        guard let start = plan.steps.firstIndex(where: { $0.kind == .send && Self.startupUser($0.send) != nil }),
              let user = Self.startupUser(plan.steps[start].send), plan.steps[start].expected.first == UInt8(ascii: "R"),
              let end = plan.steps[start...].firstIndex(where: { Self.holdsReadyForQuery($0.expected) }) else { return nil }
        steps = start...end
        self.user = user
    }

    /// Whether `bytes` hold a ReadyForQuery: `Z`, length 5, a transaction status (`I`, `T`, `E`).
    static func holdsReadyForQuery(_ bytes: [UInt8]) -> Bool {
        var from = bytes.startIndex
        while let at = bytes[from...].firstIndex(of: UInt8(ascii: "Z")) {
            if bytes[at...].starts(with: [UInt8(ascii: "Z"), 0, 0, 0, 5]), at + 5 < bytes.count, Array("ITE".utf8).contains(bytes[at + 5]) {
                return true
            }
            from = at + 1
        }
        return false
    }

    /// The `user` parameter of a StartupMessage (length, protocol 3.0, name–value pairs), or nil
    /// when `bytes` are not one.
    static func startupUser(_ bytes: [UInt8]) -> String? {
        guard bytes.count >= 8, PostgresInt32.read(bytes, at: 0) == bytes.count, PostgresInt32.read(bytes, at: 4) == 196_608
        else { return nil }
        let pairs = bytes[8...].split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        var index = 0
        while index + 1 < pairs.count {
            if pairs[index] == "user" { return pairs[index + 1] }
            index += 2
        }
        return nil
    }

    /// Logs in on `connection`: sends `startup`, answers the authentication requests with
    /// `password` and reads up to ReadyForQuery. Returns what the server sent and the method it
    /// asked for, or why it failed.
    func run(startup: [UInt8], password: [UInt8]?, on connection: ReplayConnection, timeout: TimeAmount) async
        -> Result<(received: [UInt8], method: String), LoginFailure> {
        guard await connection.send(startup) != nil else { return .failure(.ended("the connection was closed")) }
        var received: [UInt8] = []
        var method = "trust"
        var scram: ScramClient?
        while true {
            guard case .complete = await connection.awaitBytes(5, timeout: timeout) else { return .failure(await ended(connection)) }
            let header = await connection.take(5)
            let length = PostgresInt32.read(header, at: 1)
            guard length >= 4 else { return .failure(.protocolError("a backend message with length \(length)")) }
            guard case .complete = await connection.awaitBytes(length - 4, timeout: timeout) else { return .failure(await ended(connection)) }
            let body = await connection.take(length - 4)
            received += header + body
            switch header[0] {
            case UInt8(ascii: "Z"):
                return .success((received, method))
            case UInt8(ascii: "E"):
                return .failure(.refused(Self.errorMessage(body)))
            case UInt8(ascii: "R"):
                guard body.count >= 4 else { return .failure(.protocolError("an Authentication message without its code")) }
                let answer: [UInt8]?
                switch PostgresInt32.read(body, at: 0) {
                case 0:
                    answer = nil
                case 3:
                    method = "cleartext password"
                    guard let password else { return .failure(.noPassword("cleartext")) }
                    answer = Self.passwordMessage(password + [0])
                case 5:
                    method = "md5"
                    guard let password else { return .failure(.noPassword("md5")) }
                    guard body.count >= 8 else { return .failure(.protocolError("an MD5 request without its salt")) }
                    answer = Self.passwordMessage(Self.md5Response(password: password, user: user, salt: Array(body[4..<8])) + [0])
                case 10:
                    method = "scram-sha-256"
                    guard let password else { return .failure(.noPassword("scram-sha-256")) }
                    let mechanisms = body[4...].split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                    guard mechanisms.contains("SCRAM-SHA-256") else {
                        return .failure(.unsupported("SASL with \(mechanisms.joined(separator: ", "))"))
                    }
                    let client = ScramClient(password: password)
                    scram = client
                    let first = Array(client.clientFirst.utf8)
                    answer = Self.passwordMessage(Array("SCRAM-SHA-256".utf8) + [0] + PostgresProtocol.int32(first.count) + first)
                case 11:
                    guard let final = scram?.clientFinal(serverFirst: String(decoding: body[4...], as: UTF8.self)) else {
                        return .failure(.protocolError("a SCRAM challenge that does not continue this exchange"))
                    }
                    answer = Self.passwordMessage(Array(final.utf8))
                case 12:
                    guard scram?.verify(serverFinal: String(decoding: body[4...], as: UTF8.self)) == true else {
                        return .failure(.protocolError("the server's SCRAM signature does not prove it knows the password"))
                    }
                    answer = nil
                case let code:
                    return .failure(.unsupported("authentication request \(code)"))
                }
                if let answer, await connection.send(answer) == nil { return .failure(await ended(connection)) }
            default:
                continue  // ParameterStatus, BackendKeyData, NoticeResponse: this server's own.
            }
        }
    }

    private func ended(_ connection: ReplayConnection) async -> LoginFailure {
        .ended(await connection.serverEnded() ?? "no reply")
    }

    /// A PasswordMessage (`p`) holding `body`.
    static func passwordMessage(_ body: [UInt8]) -> [UInt8] {
        PostgresProtocol.message("p", body)
    }

    /// `md5` and hex(MD5(hex(MD5(password + user)) + salt)), as libpq computes it.
    static func md5Response(password: [UInt8], user: String, salt: [UInt8]) -> [UInt8] {
        func hex(_ bytes: [UInt8]) -> [UInt8] { Array(Insecure.MD5.hash(data: bytes).map { String(format: "%02x", $0) }.joined().utf8) }
        return Array("md5".utf8) + hex(hex(password + Array(user.utf8)) + salt)
    }

    /// The `M` (message) field of an ErrorResponse.
    static func errorMessage(_ body: [UInt8]) -> String {
        for field in body.split(separator: 0) where field.first == UInt8(ascii: "M") {
            return String(decoding: field.dropFirst(), as: UTF8.self)
        }
        return "an error"
    }

    /// Why the login did not get to ReadyForQuery, for people (never holding the password).
    public enum LoginFailure: Error, Equatable, CustomStringConvertible {
        case noPassword(String)
        case refused(String)
        case unsupported(String)
        case protocolError(String)
        case ended(String)

        public var description: String {
            switch self {
            case .noPassword(let method):
                "the server asks for a password (\(method)): give it with --secret \(PostgresLogin.passwordRule)=VALUE or =@ENVVAR"
            case .refused(let message): "the server refused the login: \(message)"
            case .unsupported(let what): "the replay cannot log in with \(what)"
            case .protocolError(let what): "the login went wrong: \(what)"
            case .ended(let why): "\(why) during the login"
            }
        }
    }
}

/// Big-endian int32s, as the PostgreSQL protocol writes its lengths and codes.
enum PostgresInt32 {
    static func read(_ bytes: some Collection<UInt8>, at offset: Int) -> Int {
        bytes.dropFirst(offset).prefix(4).reduce(0) { $0 << 8 | Int($1) }
    }
}

/// The client's side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: no channel
/// binding, the user name left empty (the StartupMessage gave it).
struct ScramClient {
    private let password: [UInt8]
    private let nonce: String
    private var authMessage = ""
    private var saltedPassword: [UInt8] = []

    init(password: [UInt8], nonce: String = Data((0..<18).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()) {
        self.password = password
        self.nonce = nonce
    }

    var clientFirstBare: String { "n=,r=\(nonce)" }
    var clientFirst: String { "n,," + clientFirstBare }

    /// The client-final message answering `serverFirst`, or nil when it does not continue this
    /// exchange (another nonce, no salt).
    mutating func clientFinal(serverFirst: String) -> String? {
        var attributes: [Character: String] = [:]
        for item in serverFirst.split(separator: ",") where item.count >= 2 && item.dropFirst().first == "=" {
            attributes[item.first!] = String(item.dropFirst(2))
        }
        guard let combined = attributes["r"], combined.hasPrefix(nonce), combined.count > nonce.count,
              let salt = attributes["s"].flatMap({ Data(base64Encoded: $0) }),
              let iterations = attributes["i"].flatMap(Int.init), iterations > 0 else { return nil }
        // SCRAM's Hi(): PBKDF2-HMAC-SHA256, one block, with the server's count (4096 by default:
        // below the library's checked minimum, hence its unchecked entry).
        guard let salted = try? KDF.Insecure.PBKDF2.deriveKey(from: password, salt: salt, using: .sha256, outputByteCount: 32,
                                                              unsafeUncheckedRounds: iterations) else { return nil }
        saltedPassword = salted.withUnsafeBytes { Array($0) }
        let withoutProof = "c=biws,r=\(combined)"
        authMessage = "\(clientFirstBare),\(serverFirst),\(withoutProof)"
        let clientKey = Self.hmac(saltedPassword, Array("Client Key".utf8))
        let storedKey = Array(SHA256.hash(data: clientKey))
        let signature = Self.hmac(storedKey, Array(authMessage.utf8))
        let proof = zip(clientKey, signature).map { $0 ^ $1 }
        return "\(withoutProof),p=\(Data(proof).base64EncodedString())"
    }

    /// Whether the server-final message proves the server knows the password.
    func verify(serverFinal: String) -> Bool {
        guard serverFinal.hasPrefix("v="), let signature = Data(base64Encoded: String(serverFinal.dropFirst(2))), !authMessage.isEmpty
        else { return false }
        let serverKey = Self.hmac(saltedPassword, Array("Server Key".utf8))
        return Self.hmac(serverKey, Array(authMessage.utf8)) == Array(signature)
    }

    static func hmac(_ key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

}
