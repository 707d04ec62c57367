import Foundation

/// A small HTTP/1.1 JSON service (Python's http.server): every answer carries a Date header (of a
/// clock that moves a second per request, so no two answers share one however fast they come), a
/// count `n` of the requests it served, a generated `id`, and the request's path under the field
/// name given (`path` unless told).
public struct JSONServer {
    public let program: Program
    public let port: Int

    static let script = """
        import email.utils, http.server, itertools, json, sys, time, uuid
        counter = itertools.count(1)
        served = itertools.count(1)
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def date_time_string(self, timestamp=None):
                return email.utils.formatdate(time.time() + next(served), usegmt=True)
            def do_GET(self): self.answer()
            def do_POST(self): self.answer()
            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length: self.rfile.read(length)
                body = json.dumps({"n": next(counter), "id": str(uuid.uuid4()), sys.argv[2]: self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args): pass
        http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
        """

    public static func start(pathField: String = "path") async throws -> JSONServer {
        let port = try freePort()
        let program = try Program("python3", ["-c", script, String(port), pathField])
        try await waitUntilListening(port: port)
        return JSONServer(program: program, port: port)
    }

    public func stop() { program.stop() }
}
