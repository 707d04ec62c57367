import NIOCore
import NIOSSL
import Presentation

/// Why a handshake did not finish, in plain words: what `TLSLeg.failure` stores and the one log
/// line says. Never a library dump, never key material.
public enum TLSFailure: Error, Equatable, CustomStringConvertible {
    /// The first bytes were not a TLS handshake; `firstBytes` is what came, escaped.
    case notTLS(firstBytes: String)
    case malformedHello
    case closedBeforeHello
    case timedOut(TimeAmount)
    /// Anything else, already in plain words.
    case other(String)

    public var description: String {
        switch self {
        case .notTLS(let bytes): "not a TLS handshake (the client sent \(bytes))"
        case .malformedHello: "a malformed ClientHello"
        case .closedBeforeHello: "closed before sending a ClientHello"
        case .timedOut(let amount): "no complete handshake within \(DurationText.micros(amount.nanoseconds / 1_000))"
        case .other(let text): text
        }
    }

    /// Plain words for any error a handshake ends with; `verification` adds what the certificate
    /// check found (expired, not trusted) when the library only says that it failed, and an alert
    /// seen on the wire names what the peer objected to.
    public static func describe(_ error: Error, verification: String? = nil, peerAlert: UInt8? = nil) -> String {
        if let failure = error as? TLSFailure { return failure.description }
        if let peerAlert, peerAlert != 0 { return "the peer sent alert \"\(alertName(peerAlert))\"" }
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "certificate verify failed: \(String(describing: extra).components(separatedBy: ": ").last ?? "wrong host name")"
        }
        guard let ssl = error as? NIOSSLError else { return String(describing: error) }
        switch ssl {
        case .handshakeFailed(let inner):
            let text = String(describing: inner)
            if text.contains("EOF during") { return "the peer closed the connection during the handshake" }
            guard let reason = reasonCode(in: text) else { return "handshake failed" }
            if reason == "CERTIFICATE_VERIFY_FAILED" {
                return "certificate verify failed" + (verification.map { ": \($0)" } ?? "")
            }
            if let range = reason.range(of: "ALERT_") {
                return "the peer sent alert \"\(words(String(reason[range.upperBound...])))\""
            }
            if ["WRONG_VERSION_NUMBER", "HTTP_REQUEST", "HTTPS_PROXY_REQUEST", "UNKNOWN_PROTOCOL"].contains(reason) {
                return "the peer does not speak TLS"
            }
            return words(reason)
        case .uncleanShutdown:
            return "the peer closed without close_notify"
        default:
            return "TLS failed (\(ssl))"
        }
    }

    /// The failure in one word of a few, for the `reason` label of `wirelog_tls_handshake_failures_total`.
    static func category(of error: Error, peerAlert: UInt8?) -> String {
        if let failure = error as? TLSFailure {
            switch failure {
            case .timedOut: return "timeout"
            case .notTLS, .malformedHello: return "not_tls"
            case .closedBeforeHello: return "closed"
            case .other: return "other"
            }
        }
        if let peerAlert, peerAlert != 0 { return "alert" }
        if error is NIOSSLExtraError { return "certificate" }
        guard let ssl = error as? NIOSSLError else { return "other" }
        switch ssl {
        case .handshakeFailed(let inner):
            let text = String(describing: inner)
            if text.contains("EOF during") { return "closed" }
            let reason = reasonCode(in: text) ?? ""
            if reason == "CERTIFICATE_VERIFY_FAILED" { return "certificate" }
            if reason.contains("ALERT_") { return "alert" }
            if ["WRONG_VERSION_NUMBER", "HTTP_REQUEST", "HTTPS_PROXY_REQUEST", "UNKNOWN_PROTOCOL"].contains(reason) { return "not_tls" }
            return "other"
        case .uncleanShutdown: return "closed"
        default: return "other"
        }
    }

    static let categories = ["timeout", "not_tls", "closed", "alert", "certificate", "other"]

    /// RFC 8446 names, as BoringSSL words them in its own alert errors.
    static func alertName(_ code: UInt8) -> String {
        let names: [UInt8: String] = [
            10: "unexpected message", 20: "bad record mac", 22: "record overflow", 40: "handshake failure",
            42: "bad certificate", 43: "unsupported certificate", 44: "certificate revoked", 45: "certificate expired",
            46: "certificate unknown", 47: "illegal parameter", 48: "unknown ca", 49: "access denied", 50: "decode error",
            51: "decrypt error", 70: "protocol version", 71: "insufficient security", 80: "internal error",
            86: "inappropriate fallback", 90: "user canceled", 109: "missing extension", 110: "unsupported extension",
            112: "unrecognized name", 116: "certificate required", 120: "no application protocol",
        ]
        return names[code] ?? "alert \(code)"
    }

    /// "…:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at …" → "CERTIFICATE_VERIFY_FAILED".
    private static func reasonCode(in text: String) -> String? {
        guard let marker = text.range(of: "OPENSSL_internal:") else { return nil }
        return String(text[marker.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" })
    }

    private static func words(_ code: String) -> String {
        code.lowercased().replacingOccurrences(of: "_", with: " ")
    }
}
