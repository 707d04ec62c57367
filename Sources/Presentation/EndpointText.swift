import LabProtocol

/// `127.0.0.1:5000`, `[::1]:5000`: a recorded address for people, escaped (it comes from the recording).
public enum EndpointText {
    public static func of(_ host: String, _ port: Int) -> String {
        let escaped = Escaping.escape(Array(host.utf8))
        return host.contains(":") ? "[\(escaped)]:\(port)" : "\(escaped):\(port)"
    }
}
