import Foundation
import Testing
import TestSupport

/// One HTTP/1.1 request over a real loopback socket, as a toxiproxy client sends it.
struct APIClient {
    let port: Int

    struct Reply {
        let status: Int
        let body: String
    }

    func callAsFunction(_ method: String, _ path: String, _ body: String? = nil) throws -> Reply {
        let socket = try TestSocket.connect(port: port)
        defer { socket.close() }
        let payload = body.map { "Content-Type: application/json\r\nContent-Length: \($0.utf8.count)\r\n\r\n\($0)" } ?? "\r\n"
        try socket.send(Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\(payload)".utf8))
        let text = String(decoding: try socket.receiveAll(), as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ").dropFirst().first ?? "") else {
            throw SocketError.failed("not an HTTP reply: \(text.prefix(300))", 0)
        }
        return Reply(status: status, body: String(text[headEnd.upperBound...]))
    }
}

/// `wirelog proxy --api` with no proxies, recording into `store`, and redis-server as the upstream.
final class FaultLab: @unchecked Sendable {
    let directory = TemporaryDirectory()
    let redis: Program
    let redisPort: Int
    let wirelog: WirelogProcess
    let api: APIClient

    init(arguments: [String] = [], database: String? = nil) async throws {
        redisPort = try freePort()
        redis = try Program("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            directory: directory.path)
        try await waitUntilListening(port: redisPort)
        wirelog = try WirelogProcess(["proxy", "--api", "127.0.0.1:0", "--db", database ?? directory.file("faults.sqlite")] + arguments)
        let log = try wirelog.waitForStderr(containing: "toxiproxy API on http://127.0.0.1:")
        let line = log.components(separatedBy: "toxiproxy API on http://127.0.0.1:")[1]
        api = APIClient(port: Int(line.prefix { $0.isNumber })!)
    }

    /// A proxy in front of redis made over the API; returns its port.
    func redisProxy(_ name: String) throws -> Int {
        let reply = try api("POST", "/proxies", #"{"name":"\#(name)","listen":"127.0.0.1:0","upstream":"127.0.0.1:\#(redisPort)"}"#)
        #expect(reply.status == 201, "\(reply.body)")
        return try Self.port(reply.body)
    }

    static func port(_ proxyJSON: String) throws -> Int {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(proxyJSON.utf8)) as? [String: Any])
        let listen = try #require(object["listen"] as? String)
        return try #require(Int(listen.split(separator: ":").last ?? ""))
    }

    func redisCLI(_ port: Int, _ arguments: String...) throws -> String {
        try Program.run("redis-cli", ["-p", String(port)] + arguments, timeout: 20)
    }

    func stop() throws -> ProcessResult {
        wirelog.signal(SIGTERM)
        let result = try wirelog.wait(timeout: 30)
        redis.stop()
        return result
    }
}

/// toxiproxy's API over real HTTP: paths, JSON shapes, status codes and error bodies, and the
/// toxics it sets acting on real clients.
@Suite struct ToxiproxyAPITests {
    @Test func proxiesAndToxicsWithToxiproxysShapesAndStatuses() async throws {
        let lab = try await FaultLab()
        let api = lab.api
        #expect(try api("GET", "/proxies").body == "{}")
        #expect(try api("GET", "/version").body.hasPrefix(#"{"version": "wirelog "#))
        let port = try lab.redisProxy("redis")
        let shown = try api("GET", "/proxies/redis")
        #expect(shown.status == 200)
        #expect(shown.body == #"{"name":"redis","listen":"127.0.0.1:\#(port)","upstream":"127.0.0.1:\#(lab.redisPort)","enabled":true,"toxics":[]}"#)

        let created = try api("POST", "/proxies/redis/toxics", #"{"type":"latency","attributes":{"latency":250,"jitter":5}}"#)
        #expect(created.status == 200)
        #expect(created.body == #"{"attributes":{"latency":250,"jitter":5},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}"#)
        #expect(try api("GET", "/proxies/redis/toxics").body == "[\(created.body)]")
        #expect(try api("GET", "/proxies/redis/toxics/latency_downstream").body == created.body)
        let updated = try api("PATCH", "/proxies/redis/toxics/latency_downstream", #"{"attributes":{"jitter":0},"toxicity":0.5}"#)
        #expect(updated.body == #"{"attributes":{"latency":250,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":0.5}"#)

        // Bad input: toxiproxy's status and one line.
        let errors: [(String, String, String?, Int, String)] = [
            ("GET", "/proxies/nope", nil, 404, "proxy not found"),
            ("POST", "/proxies/nope/toxics", #"{"type":"latency"}"#, 404, "proxy not found"),
            ("POST", "/proxies", #"{"name":"redis","upstream":"127.0.0.1:1"}"#, 409, "proxy already exists"),
            ("POST", "/proxies", #"{"upstream":"127.0.0.1:1"}"#, 400, "missing required field: name"),
            ("POST", "/proxies", #"{"name":"x"}"#, 400, "missing required field: upstream"),
            ("POST", "/proxies", #"{"name":"#, 400, "bad request body: malformed JSON"),
            ("POST", "/proxies/redis/toxics", #"{"type":"latency"}"#, 409, "toxic already exists"),
            ("POST", "/proxies/redis/toxics", #"{"type":"lag"}"#, 400, "invalid toxic type"),
            ("POST", "/proxies/redis/toxics", #"{"type":"latency","stream":"sideways"}"#, 400, "stream was invalid, can be either upstream or downstream"),
            ("POST", "/proxies/redis/toxics", #"{"type":"bandwidth","attributes":{"rate":-1}}"#, 400, "bad request body: rate must not be negative, not -1"),
            ("POST", "/proxies/redis/toxics", #"{"type":"bandwidth","attributes":{"speed":1}}"#, 400, "bad request body: bandwidth has no attribute speed (it has rate)"),
            ("GET", "/proxies/redis/toxics/nope", nil, 404, "toxic not found"),
            ("PATCH", "/proxies/redis/toxics/nope", "{}", 404, "toxic not found"),
            ("DELETE", "/proxies/redis/toxics/nope", nil, 404, "toxic not found"),
            ("POST", "/proxies", #"{"name":"twin","listen":"127.0.0.1:\#(port)","upstream":"127.0.0.1:1"}"#, 500,
             "listen tcp 127.0.0.1:\(port): address already in use"),
        ]
        for (method, path, body, status, message) in errors {
            let reply = try api(method, path, body)
            #expect(reply.status == status, "\(method) \(path)")
            #expect(reply.body == #"{"error":"\#(message)","status":\#(status)}"# + "\n", "\(method) \(path)")
        }
        #expect(try api("GET", "/proxies/twin").status == 404)

        #expect(try api("DELETE", "/proxies/redis/toxics/latency_downstream").status == 204)
        #expect(try api("GET", "/proxies/redis/toxics").body == "[]")
        #expect(try lab.redisCLI(port, "PING") == "PONG\n")
        #expect(try api("DELETE", "/proxies/redis").status == 204)
        #expect(try api("GET", "/proxies").body == "{}")
        #expect(throws: (any Error).self) { try TestSocket.connect(port: port) }
        #expect(try lab.stop().failure == nil)
    }

    @Test func populateResetAndDisabling() async throws {
        let lab = try await FaultLab()
        let api = lab.api
        let populated = try api("POST", "/populate", #"""
            [{"name":"a","upstream":"127.0.0.1:\#(lab.redisPort)"},
             {"name":"b","upstream":"127.0.0.1:\#(lab.redisPort)","toxics":[{"type":"timeout","stream":"upstream"}]}]
            """#)
        #expect(populated.status == 201)
        let proxies = try #require(try JSONSerialization.jsonObject(with: Data(populated.body.utf8)) as? [String: Any])
        let list = try #require(proxies["proxies"] as? [[String: Any]])
        #expect(list.map { $0["name"] as? String } == ["a", "b"])
        let duplicate = try api("POST", "/populate", #"[{"name":"c","upstream":"127.0.0.1:1"},{"name":"c","upstream":"127.0.0.1:1"}]"#)
        #expect(duplicate.status == 500)
        #expect(duplicate.body == #"{"error":"duplicate proxy name \"c\"","status":500,"proxies":null}"#)

        // A connection through a, then b disabled and its toxics changed: a's connection never notices
        // (b's latency outlasts the receive's 30 s, so a leak of it into a fails the receive).
        let aPort = try FaultLab.port(try api("GET", "/proxies/a").body)
        let bPort = try FaultLab.port(try api("GET", "/proxies/b").body)
        let held = try TestSocket.connect(port: aPort)
        try held.send(Array("PING\r\n".utf8))
        #expect(try held.receive() == Array("+PONG\r\n".utf8))
        let disabled = try api("PATCH", "/proxies/b", #"{"enabled":false}"#)
        #expect(disabled.body.contains(#""enabled":false"#))
        #expect(throws: (any Error).self) { try TestSocket.connect(port: bPort) }
        #expect(try api("POST", "/proxies/b/toxics", #"{"type":"latency","stream":"both","attributes":{"latency":60000}}"#).status == 200)
        try held.send(Array("PING\r\n".utf8))
        #expect(try held.receive() == Array("+PONG\r\n".utf8))

        // /reset: every proxy enabled again (on its port), every toxic gone.
        #expect(try api("POST", "/reset").status == 204)
        let b = try api("GET", "/proxies/b").body
        #expect(b.contains(#""enabled":true"#) && b.contains(#""toxics":[]"#))
        #expect(try lab.redisCLI(try FaultLab.port(b), "PING") == "PONG\n")
        held.close()
        #expect(try lab.stop().failure == nil)
    }

    @Test func curlDrivesTheAPIAndBrowsersAreRefused() async throws {
        let lab = try await FaultLab()
        let base = "http://127.0.0.1:\(lab.api.port)"
        let created = try Program.run("curl", ["-sS", "-X", "POST", "-d", #"{"name":"r","upstream":"127.0.0.1:\#(lab.redisPort)"}"#, "\(base)/proxies"])
        #expect(created.contains(#""name":"r""#))
        let toxic = try Program.run("curl", ["-sS", "-d", #"{"type":"slow_close","attributes":{"delay":10}}"#, "\(base)/proxies/r/toxics"])
        #expect(toxic.contains(#""name":"slow_close_downstream""#))
        let browser = try Program.run("curl", ["-sS", "-A", "Mozilla/5.0", "-w", "%{http_code}", "\(base)/proxies"])
        #expect(browser == "User agent not allowed\n403")
        #expect(try lab.stop().failure == nil)
    }

    @Test func anAPIBeyondLoopbackNeedsAToken() throws {
        let directory = TemporaryDirectory()
        let result = try WirelogProcess.run(["proxy", "--api", "0.0.0.0:0", "--db", directory.file("x.sqlite")])
        #expect(result.status != 0)
        #expect(result.stderrText.contains("WIRELOG_WEB_TOKEN"))
        let neither = try WirelogProcess.run(["proxy", "--db", directory.file("x.sqlite")])
        #expect(neither.stderrText.contains("give --upstream host:port (or --api host:port to start with no proxies)"))
    }
}
