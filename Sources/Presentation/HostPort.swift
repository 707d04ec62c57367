import Foundation

/// `HOST:PORT`, `[v6]:PORT`, or a bare `PORT` (loopback): every address option of the CLI,
/// and `--client` filters (through `SessionFilterArguments`).
public struct HostPort: CustomStringConvertible, Sendable, Equatable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(argument: String) {
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

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
