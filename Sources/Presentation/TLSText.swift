import LabProtocol
import Recording

/// A session's TLS facts as `sessions show` prints them and the web viewer shows them.
public enum TLSText {
    /// `TLS client ↔ wirelog: …` and `TLS wirelog ↔ server: …`, for the legs that had TLS.
    public static func lines(_ tls: TLSDetails?) -> [String] {
        guard let tls else { return [] }
        return [tls.client.map { "TLS client ↔ wirelog: " + describe($0) }, tls.server.map { "TLS wirelog ↔ server: " + describe($0) }]
            .compactMap { $0 }
    }

    /// `TLSv1.3 TLS_AES_128_GCM_SHA256, SNI a.example, ALPN h2, peer CN=…, sha256 ab12…`, escaped
    /// (names and subjects come from the network).
    static func describe(_ leg: TLSLeg) -> String {
        var parts: [String] = []
        if let failure = leg.failure { parts.append("failed: \(failure)") }
        let suite = [leg.version, leg.cipherSuite].compactMap { $0 }.joined(separator: " ")
        if !suite.isEmpty { parts.append(suite) }
        if let sni = leg.sni { parts.append("SNI \(sni)") }
        if let alpn = leg.alpn { parts.append("ALPN \(alpn)") }
        if let subject = leg.peerSubject { parts.append("peer \(subject)") }
        if let fingerprint = leg.peerSHA256 { parts.append("sha256 \(fingerprint)") }
        if let closure = leg.closedWith { parts.append("peer closed with \(closure.rawValue)") }
        return Escaping.escape(Array(parts.joined(separator: ", ").utf8))
    }
}
