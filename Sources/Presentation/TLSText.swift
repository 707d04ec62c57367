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

    /// Where a session switched to TLS mid-stream (STARTTLS): after this message's seq (0: before the first).
    public static func switchSeq(_ tls: TLSDetails?) -> Int64? {
        tls?.client?.startTLSAfterSeq ?? tls?.server?.startTLSAfterSeq
    }

    /// The transcript's line at the switch.
    public static let switchLine = "                 ── switched to TLS (STARTTLS): plaintext of the TLS session from here on ──"

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
        if let seq = leg.startTLSAfterSeq { parts.append("switched to TLS after message \(seq)") }
        return Escaping.escape(Array(parts.joined(separator: ", ").utf8))
    }
}
