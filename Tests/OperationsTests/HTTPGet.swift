import Foundation
import TestSupport

/// One plain HTTP/1.1 GET over a real loopback socket: status and body.
struct HTTPReply {
    let status: Int
    let body: String

    static func get(port: Int, _ path: String, token: String? = nil) throws -> HTTPReply {
        let socket = try TestSocket.connect(port: port)
        defer { socket.close() }
        let authorization = token.map { "Authorization: Bearer \($0)\r\n" } ?? ""
        try socket.send(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(authorization)Connection: close\r\n\r\n".utf8))
        let text = String(decoding: try socket.receiveAll(), as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n"),
              let status = Int(text.split(separator: " ").dropFirst().first ?? "") else {
            throw HTTPReplyError(text: text)
        }
        var body = String(text[headEnd.upperBound...])
        if text[..<headEnd.lowerBound].lowercased().contains("transfer-encoding: chunked") { body = Self.unchunked(body) }
        return HTTPReply(status: status, body: body)
    }

    private static func unchunked(_ text: String) -> String {
        var rest = Substring(text)
        var body = ""
        while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 {
            let start = lineEnd.upperBound
            let bytes = Array(rest[start...].utf8.prefix(size))
            body += String(decoding: bytes, as: UTF8.self)
            rest = rest[rest.utf8.index(start, offsetBy: size)...].dropFirst(2)
        }
        return body
    }
}

struct HTTPReplyError: Error, CustomStringConvertible {
    let text: String
    var description: String { "not an HTTP reply: \(text.prefix(500))" }
}

/// The samples of a Prometheus text exposition: `name{labels}` to value.
struct Exposition {
    let samples: [String: Double]
    let text: String

    init(_ text: String) {
        self.text = text
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        self.samples = samples
    }

    subscript(_ series: String) -> Double { samples[series] ?? 0 }

    /// The sum over every series of `name`.
    func total(_ name: String) -> Double {
        samples.filter { $0.key == name || $0.key.hasPrefix(name + "{") }.values.reduce(0, +)
    }
}

extension WirelogProcess {
    /// `wirelog proxy` on a free loopback port in front of `upstream`, recording into `database`.
    static func proxy(to upstream: TestListener, database: String, _ more: [String]) throws -> WirelogProcess {
        try WirelogProcess(["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(upstream.port)", "--db", database] + more)
    }

    /// The port of the `--metrics` listener, from its log line.
    func metricsPort(timeout: TimeInterval = 30) throws -> Int {
        let pattern = #"metrics on http://\S+:(\d+)/metrics"#
        let log = try waitForStderr(containing: "/metrics", timeout: timeout)
        guard let range = log.range(of: pattern, options: .regularExpression),
              let port = Int(log[range].dropLast("/metrics".count).split(separator: ":").last ?? "") else {
            throw ProcessError.noListenAddress(log)
        }
        return port
    }

    /// Scrapes until `done` holds for the exposition (the recorder commits after the sockets
    /// close), or `timeout` passes; the last exposition.
    func scrape(port: Int, timeout: TimeInterval = 30, until done: (Exposition) -> Bool) throws -> Exposition {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let exposition = Exposition(try HTTPReply.get(port: port, "/metrics").body)
            if done(exposition) || Date() > deadline { return exposition }
        }
    }
}
