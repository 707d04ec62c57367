/// Rules for well-known secrets, by name (`--redact-preset NAME`). Each is tested against real
/// clients (ProxyTests' RedactionPresetTests).
public enum RedactionPreset: String, Sendable, CaseIterable {
    /// Redis `AUTH [user] password` and `HELLO protover AUTH user password`, in RESP and inline
    /// form: the password.
    case redisAuth = "redis-auth"
    /// HTTP/1 `Authorization`, `Proxy-Authorization`, `Cookie` and `Set-Cookie` header values.
    case httpAuth = "http-auth"
    /// SMTP `AUTH PLAIN` / `AUTH LOGIN`: the initial response and every client line of the exchange.
    case smtpAuth = "smtp-auth"
    /// The body of the PostgreSQL PasswordMessage (and of SASL responses), and the server's SCRAM
    /// challenge and signature.
    case postgresPassword = "postgres-password"
    /// Every DATA payload of the lab protocol.
    case labData = "lab-data"

    /// The preset's rules, all named after it (`--secret redis-auth=…`).
    public func rules() -> [RedactionRule] {
        let name = rawValue
        // The presets' patterns are fixed and tested: compiling them cannot fail.
        func regex(_ pattern: String) -> Regex<AnyRegexOutput> {
            try! RedactionRule.compile(pattern)
        }
        switch self {
        case .redisAuth:
            return [
                RedactionRule(name: name, direction: .client, source: name, preset: self, matcher: .regex(regex(
                    #"(?i)\*2\r\n\$4\r\nAUTH\r\n\$\d+\r\n([^\r\n]*)\r\n"#
                    + #"|\*3\r\n\$4\r\nAUTH\r\n\$\d+\r\n[^\r\n]*\r\n\$\d+\r\n([^\r\n]*)\r\n"#
                    + #"|\$5\r\nHELLO\r\n\$\d+\r\n\d+\r\n\$4\r\nAUTH\r\n\$\d+\r\n[^\r\n]*\r\n\$\d+\r\n([^\r\n]*)\r\n"#)),
                    anyOf: ["auth"]),
                RedactionRule(name: name, direction: .client, source: name, preset: self, matcher: .regex(regex(
                    #"(?im)^[ \t]*AUTH[ \t]+(?:[^ \t\r\n]+[ \t]+)?([^ \t\r\n]+)[ \t]*\r?$"#
                    + #"|^[ \t]*HELLO[ \t]+\d+[ \t]+AUTH[ \t]+[^ \t\r\n]+[ \t]+([^ \t\r\n]+)"#)),
                    anyOf: ["auth"]),
            ]
        case .httpAuth:
            return [RedactionRule(name: name, direction: .both, source: name, preset: self, matcher: .httpCredentialHeaders,
                                  anyOf: ["authorization", "cookie"])]
        case .smtpAuth:
            // Both directions: the server's replies tell where the exchange ends.
            return [RedactionRule(name: name, direction: .both, source: name, preset: self, matcher: .smtpAuthExchange(regex(
                #"(?i)\A[ \t]*AUTH[ \t]+[A-Z0-9_-]+(?:[ \t]+([^\r\n]+))?"#)), anyOf: [])]
        case .postgresPassword:
            return [RedactionRule(name: name, direction: .both, source: name, preset: self, matcher: .postgresPasswordMessage, anyOf: [])]
        case .labData:
            // No cheap test here: the line after a bare DATA need not say DATA (the matcher has its own).
            return [RedactionRule(name: name, direction: .client, source: name, preset: self, matcher: .labPayload, anyOf: [])]
        }
    }
}
