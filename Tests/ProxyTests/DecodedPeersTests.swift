import Backends
import Foundation
import Recording
import Testing
import TestSupport

/// Real clients and servers through the recording proxy with `--decode auto` (its default): the
/// protocol is recognised, each request and response is one message with its fields, and each
/// response names the request it answers. The bytes stay exactly what crossed the wire.
@Suite struct DecodedPeersTests {
    @Test(arguments: TestBackend.allCases)
    func redisCommandsAndPipelinesAreDecodedIntoExchanges(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let redisPort = try freePort()
        let redis = try Program("redis-server", [
            "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        ], directory: directory.path)
        defer { redis.stop() }
        try await waitUntilListening(port: redisPort)
        let proxy = try await ProxyHarness.start(upstreamPort: redisPort, store: try backend.freshStore(in: directory))
        let port = String(proxy.port)
        let value = "line one\r\nline two"
        #expect(try await onThread { try Program.run("redis-cli", ["-p", port, "SET", "greeting", value]) } == "OK\n")
        let failed = try await onThread { try Program.run("redis-cli", ["-p", port, "INCR", "greeting"]) }
        #expect(failed.contains("ERR"))
        // 48 commands, 16 to a write: 48 messages each way, not one per read.
        _ = try await onThread {
            try Program.run("redis-benchmark", ["-p", port, "-n", "48", "-c", "1", "-P", "16", "-t", "set", "-q"])
        }
        _ = try await endedSessions(proxy.store, count: 3)
        await proxy.stop()

        let sessions = try await RecordedRows.sessions(proxy.store)
        #expect(Set(sessions.map(\.decoding)) == ["resp"])
        let messages = try await proxy.store.withStore(.read) { store in
            try await sessions.asyncMap { try await store.messages(ofSession: $0.id) }
        }
        let set = messages[0]
        #expect(set.map(\.sender) == [.client, .server])
        #expect(set[0].verb == "SET")
        #expect(set[0].fields[field: "key"] == .text("greeting"))
        #expect(set[0].fields[field: "arguments"] == .integer(2))
        #expect(set[1].fields[field: "type"] == .text("simple"))
        #expect(set[1].exchange?.requestSeq == set[0].seq)
        #expect(String(decoding: set[0].raw, as: UTF8.self) == "*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$18\r\n\(value)\r\n")
        let incr = messages[1]
        #expect(incr[1].fields[field: "error"] == .text("ERR"))
        #expect(incr[1].exchange?.requestSeq == incr[0].seq)

        // redis-benchmark asks CONFIG first, then the pipelined SETs.
        let bench = try #require(messages.first { $0.filter { $0.verb == "SET" }.count == 48 })
        let requests = bench.filter { $0.sender == .client }
        let replies = bench.filter { $0.sender == .server }
        #expect(requests.count == replies.count)
        #expect(replies.compactMap(\.exchange?.requestSeq) == requests.map(\.seq), "every reply answers its command, in order")
        #expect(replies.allSatisfy { $0.exchange!.durationMicros >= 0 })
    }

    /// A small HTTP/1.1 server of our own: keep-alive, Content-Length, chunked with a trailer, 404.
    static let keepAliveServer = """
        import http.server, sys
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass
            def do_GET(self):
                if self.path.startswith("/chunked"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for part in (b"hello ", b"chunked ", b"world"):
                        self.wfile.write(b"%x\\r\\n%s\\r\\n" % (len(part), part))
                    self.wfile.write(b"0\\r\\nX-Trailer: done\\r\\n\\r\\n")
                elif self.path.startswith("/users/"):
                    body = b'{"id": %s}' % self.path.rsplit("/", 1)[1].encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
            def do_HEAD(self):
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                body = self.rfile.read(length)
                self.send_response(201)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
        """

    @Test(arguments: TestBackend.allCases)
    func curlKeepAliveExchangesAreDecodedOneMessagePerHTTPMessage(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let script = directory.file("server.py")
        try Self.keepAliveServer.write(toFile: script, atomically: true, encoding: .utf8)
        let httpPort = try freePort()
        let server = try Program("python3", [script, String(httpPort)])
        defer { server.stop() }
        try await waitUntilListening(port: httpPort)
        let proxy = try await ProxyHarness.start(upstreamPort: httpPort, store: try backend.freshStore(in: directory))
        let base = "http://127.0.0.1:\(proxy.port)"
        // One curl, one connection, four requests on it (keep-alive), then HEAD and POST on another.
        let fetched = try await onThread {
            try Program.run("curl", ["-sS", "--max-time", "20", "\(base)/users/42", "\(base)/users/7", "\(base)/chunked", "\(base)/nothing"])
        }
        #expect(fetched == "{\"id\": 42}{\"id\": 7}hello chunked world")
        _ = try await onThread {
            try Program.run("curl", ["-sS", "--max-time", "20", "-I", "\(base)/big", "-:", "-d", "name=wirelog", "\(base)/form"])
        }
        _ = try await endedSessions(proxy.store, count: 2)
        await proxy.stop()

        let sessions = try await RecordedRows.sessions(proxy.store)
        #expect(sessions.map(\.decoding) == ["http", "http"])
        let (keepAlive, mixed) = try await proxy.store.withStore(.read) { store in
            (try await store.messages(ofSession: sessions[0].id), try await store.messages(ofSession: sessions[1].id))
        }
        let requests = keepAlive.filter { $0.sender == .client }
        let responses = keepAlive.filter { $0.sender == .server }
        #expect(requests.map(\.verb) == ["GET", "GET", "GET", "GET"])
        #expect(requests.map { $0.fields[field: "target"] } == ["/users/42", "/users/7", "/chunked", "/nothing"].map(FieldValue.text))
        #expect(responses.map(\.replyCode) == [200, 200, 200, 404])
        #expect(responses.compactMap(\.exchange?.requestSeq) == requests.map(\.seq))
        let chunked = String(decoding: responses[2].raw, as: UTF8.self)
        #expect(chunked.hasPrefix("HTTP/1.1 200 OK\r\n") && chunked.hasSuffix("0\r\nX-Trailer: done\r\n\r\n"))
        #expect(responses[2].fields[field: "transfer_encoding"] == .text("chunked"))
        #expect(responses[0].fields[field: "content_type"] == .text("application/json"))

        // HEAD's response has no body although it says Content-Length: 1000; the POST after it is framed right.
        #expect(mixed.map(\.verb) == ["HEAD", nil, "POST", nil])
        #expect(mixed.map(\.replyCode) == [nil, 200, nil, 201])
        #expect(mixed[1].fields[field: "content_length"] == .integer(1000))
        #expect(String(decoding: mixed[3].raw, as: UTF8.self).hasSuffix("\r\n\r\nname=wirelog"))
        #expect(mixed.compactMap(\.exchange?.requestSeq) == [mixed[0].seq, mixed[2].seq])

        // The list filters on what was decoded, on this backend.
        let chosen = try await proxy.store.withStore(.read) { store -> [[Int64]] in
            var notFound = SessionFilter(), users = SessionFilter(), created = SessionFilter(), slow = SessionFilter(), http = SessionFilter()
            notFound.replyCodeRange = 400...499
            users.fields = [FieldMatch(name: "target", .glob("/users/*"))]
            created.replyCode = 201
            slow.slowerThanMicros = 60_000_000
            http.decoding = "http"
            return try await [notFound, users, created, slow, http].asyncMap { try await store.list($0, limit: 10).map(\.id).sorted() }
        }
        #expect(chosen == [[sessions[0].id], [sessions[0].id], [sessions[1].id], [], sessions.map(\.id)])

        // The same exchanges as HAR 1.2: every field the format requires, bodies de-chunked.
        let exported = try WirelogProcess.run(["sessions", "export", "--decoding", "http", "--format", "har", "--db", proxy.store.argument])
        #expect(exported.failure == nil)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(exported.stdoutText.utf8)) as? [String: Any])
        let log = try #require(document["log"] as? [String: Any])
        #expect(log["version"] as? String == "1.2")
        let entries = try #require(log["entries"] as? [[String: Any]])
        #expect(entries.count == 6)
        for entry in entries {
            for key in ["startedDateTime", "time", "request", "response", "cache", "timings"] { #expect(entry[key] != nil, "\(key)") }
            let request = try #require(entry["request"] as? [String: Any])
            for key in ["method", "url", "httpVersion", "cookies", "headers", "queryString", "headersSize", "bodySize"] {
                #expect(request[key] != nil, "request.\(key)")
            }
            let response = try #require(entry["response"] as? [String: Any])
            for key in ["status", "statusText", "httpVersion", "cookies", "headers", "content", "redirectURL", "headersSize", "bodySize"] {
                #expect(response[key] != nil, "response.\(key)")
            }
        }
        let urls = entries.compactMap { ($0["request"] as? [String: Any])?["url"] as? String }
        #expect(urls.first == "http://127.0.0.1:\(proxy.port)/users/42")
        let chunkedContent = (entries[2]["response"] as? [String: Any])?["content"] as? [String: Any]
        #expect(chunkedContent?["text"] as? String == "hello chunked world")
        let posted = (entries[5]["request"] as? [String: Any])?["postData"] as? [String: Any]
        #expect(posted?["text"] as? String == "name=wirelog")
    }

    @Test(arguments: TestBackend.allCases)
    func psqlAndPgbenchAreDecodedIntoQueriesAndTheirResults(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let server = try TestPostgres.serverAddress()
        let proxy = try await ProxyHarness.start(upstreamPort: server.port, upstreamHost: server.host,
                                                 store: try backend.freshStore(in: directory))
        var through = try #require(URLComponents(string: try TestPostgres.freshDatabaseURL()))
        through.port = proxy.port
        let url = try #require(through.string)
        #expect(try await onThread { try TestPostgres.psql(url, "SELECT 41 + 1") } == "42")
        await #expect(throws: (any Error).self) { try await onThread { try TestPostgres.psql(url, "SELECT * FROM no_such_table") } }
        _ = try await onThread { try Program.run("pgbench", ["-i", "-q", "-s", "1", url]) }
        for mode in ["simple", "prepared"] {
            _ = try await onThread { try Program.run("pgbench", ["-n", "-M", mode, "-t", "5", "-c", "1", url]) }
        }
        _ = try await endedSessions(proxy.store, count: 5)
        await proxy.stop()

        let sessions = try await RecordedRows.sessions(proxy.store)
        #expect(Set(sessions.map(\.decoding)) == ["postgres"])
        let transcripts = try await proxy.store.withStore(.read) { store in
            try await sessions.asyncMap { try await store.messages(ofSession: $0.id) }
        }
        for messages in transcripts {
            // Every server turn that completes an exchange answers an earlier client turn, in order.
            let answered = messages.compactMap(\.exchange?.requestSeq)
            #expect(answered == answered.sorted())
            #expect(answered.allSatisfy { seq in messages.contains { $0.seq == seq && $0.sender == .client } })
            #expect(messages.allSatisfy { $0.decodeError == nil })
        }
        let select = transcripts[0]
        #expect(select.contains { $0.fields[field: "statement"] == .text("SELECT 41 + 1") })
        #expect(select.contains { $0.fields[field: "tag"] == .text("SELECT 1") && $0.exchange != nil })
        #expect(transcripts[1].contains { $0.fields[field: "sqlstate"] == .text("42P01") && $0.exchange != nil })
        // Five TPC-B transactions each way: three UPDATEs each, by Query or by Parse then Bind/Execute.
        let runs = transcripts.filter { $0.filter { $0.fields[field: "tag"] == .text("UPDATE 1") }.count == 15 }
        #expect(runs.count == 2)
        #expect(runs.contains { $0.contains { $0.fields[field: "messages"] == .text("Query") && ($0.fields[field: "statement"]?.text ?? "").hasPrefix("UPDATE pgbench_accounts") } })
        #expect(runs.contains { $0.contains { ($0.fields[field: "messages"]?.text ?? "").hasPrefix("Parse") && ($0.fields[field: "statement"]?.text ?? "").hasPrefix("UPDATE pgbench_accounts") } })

        let slow = try await proxy.store.withStore(.read) { store in
            var filter = SessionFilter()
            filter.fields = [FieldMatch(name: "sqlstate", .equals("42P01"))]
            return try await store.list(filter, limit: 10).map(\.id)
        }
        #expect(slow == [sessions[1].id])
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var mapped: [T] = []
        for element in self { mapped.append(try await transform(element)) }
        return mapped
    }
}
