import Backends
import Client
import Foundation
import Testing
import TestSupport

/// The proxy between programs nobody here wrote (redis, python's http.server, curl), and
/// between wirelog's own lab client and server.
@Suite struct RealPeersTests {
    @Test(arguments: TestBackend.allCases)
    func redisCommandsThroughTheProxyRecordedAsLines(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let redisPort = try freePort()
        let redis = try Program("redis-server", [
            "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        ], directory: directory.path)
        defer { redis.stop() }
        try await waitUntilListening(port: redisPort)
        let proxy = try await ProxyHarness.start(upstreamPort: redisPort, store: try backend.freshStore(in: directory)) {
            $0.decoding = .lines
        }
        let port = String(proxy.port)
        // A value with spaces, CR and LF inside: RESP carries it by length.
        let value = "line one\r\nline two " + String(repeating: "x", count: 10_000)
        let set = try await onThread { try Program.run("redis-cli", ["-p", port, "SET", "greeting", value]) }
        #expect(set == "OK\n")
        let get = try await onThread { try Program.run("redis-cli", ["-p", port, "--no-raw", "STRLEN", "greeting"]) }
        #expect(get == "(integer) \(value.utf8.count)\n")
        let counted = try await onThread { try Program.run("redis-cli", ["-p", port, "-r", "50", "INCR", "counter"]) }
        #expect(counted.split(separator: "\n").last == "50")
        _ = try await endedSessions(proxy.store, count: 3)
        await proxy.stop()

        let sessions = try await RecordedRows.sessions(proxy.store)
        #expect(sessions.map(\.decoding) == ["lines", "lines", "lines"])
        #expect(sessions.allSatisfy { $0.endReason == "client_closed" })
        let setMessages = try await RecordedRows.messages(proxy.store, session: sessions[0].id)
        let command = "*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$\(value.utf8.count)\r\n\(value)\r\n"
        #expect(recordedStream(setMessages, sender: "client") == Array(command.utf8))
        #expect(recordedStream(setMessages, sender: "server") == Array("+OK\r\n".utf8))
        // Lines: every message but possibly a final one ends with LF.
        #expect(setMessages.dropLast().allSatisfy { $0.raw.last == UInt8(ascii: "\n") })
        #expect(setMessages.filter { $0.sender == "client" }.map(\.rawText).contains("line one\r\n"))
        let increments = try await RecordedRows.messages(proxy.store, session: sessions[2].id)
        #expect(increments.filter { $0.sender == "server" }.map(\.rawText) == (1...50).map { ":\($0)\r\n" })
        #expect(sessions[2].bytesFromClient == Int64(recordedStream(increments, sender: "client").count))
    }

    @Test(arguments: TestBackend.allCases)
    func curlFetchesFromPythonHTTPServerThroughTheProxy(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let site = directory.file("site")
        try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
        let body = randomBytes(2 << 20, seed: 5)
        try Data(body).write(to: URL(fileURLWithPath: site + "/blob.bin"))
        let httpPort = try freePort()
        let server = try Program("python3", ["-m", "http.server", String(httpPort), "--bind", "127.0.0.1", "--directory", site])
        defer { server.stop() }
        try await waitUntilListening(port: httpPort)
        // `waitUntilListening` made a connection of its own to the server, not through the proxy.
        let proxy = try await ProxyHarness.start(upstreamPort: httpPort, store: try backend.freshStore(in: directory))
        let output = directory.file("fetched.bin")
        _ = try await onThread {
            try Program.run("curl", ["-sS", "--max-time", "20", "-o", output, "http://127.0.0.1:\(proxy.port)/blob.bin"])
        }
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: output))) == body)
        _ = try await endedSessions(proxy.store, count: 1)
        await proxy.stop()

        let session = try #require(try await RecordedRows.sessions(proxy.store).first)
        let messages = try await RecordedRows.messages(proxy.store, session: session.id)
        let request = recordedStream(messages, sender: "client")
        let response = recordedStream(messages, sender: "server")
        #expect(String(decoding: request, as: UTF8.self).hasPrefix("GET /blob.bin HTTP/1.1\r\n"))
        #expect(String(decoding: response.prefix(17), as: UTF8.self) == "HTTP/1.0 200 OK\r\n")
        #expect(Array(response.suffix(body.count)) == body)
        #expect(session.bytesFromServer == Int64(response.count))
        #expect(session.bytesFromClient == Int64(request.count))
    }

    /// The same client script through `proxy --decode lab` and straight at `serve` behind it:
    /// both recordings hold the same verbs, payloads and reply codes, byte for byte.
    @Test(arguments: TestBackend.allCases)
    func labDecodingRecordsWhatServeRecords(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let server = try await TestServer.start(store: try backend.freshStore(in: directory, name: "serve"))
        let proxy = try await ProxyHarness.start(upstreamPort: server.port, store: try backend.freshStore(in: directory, name: "proxy")) {
            $0.decoding = .lab
        }
        let connection = try await LabConnection.connect(host: "127.0.0.1", port: proxy.port)
        var replies: [String] = []
        func exchange(_ text: String, expecting count: Int = 1) async throws {
            try await connection.send(Array(text.utf8))
            for _ in 0..<count {
                replies.append(String(decoding: try #require(try await connection.readReply()), as: UTF8.self))
            }
        }
        try await exchange("HELO proxy\n")
        try await exchange("DATA hello world\n")
        try await connection.send(Array("DATA\n".utf8))
        try await exchange("a payload on its own line\r\n")
        try await exchange("FOO bar\n")
        try await exchange("\n")
        try await exchange("helo\r\nDATA x\n", expecting: 2)
        try await exchange("HELO")  // no terminator: complete after the quiet period
        // The server answers HELO while DATA waits for its payload line.
        try await exchange("HELO again\nDATA\n")
        try await exchange("late payload\n")
        try await exchange("QUIT\n")
        #expect(try await connection.readReply() == nil)
        await connection.close()
        _ = try await endedSessions(proxy.store, count: 1)
        await proxy.stop()
        await server.stop()

        #expect(replies == [
            "100 OK\n", "300 DRCV\n", "300 DRCV\n", "400 BCMD\r\nCommand-description: Bad command\r\n",
            "400 BCMD\r\nCommand-description: Bad command\r\n", "100 OK\n", "300 DRCV\n", "100 OK\n",
            "100 OK\n", "300 DRCV\n", "200 BYE\n",
        ])
        struct Fields: Equatable {
            var seq: Int64, sender: String, raw: [UInt8], verb: String?, payload: [UInt8]?, replyCode: Int?
        }
        func fields(_ store: StoreLocation) async throws -> [Fields] {
            try await RecordedRows.messages(store).map {
                Fields(seq: $0.seq, sender: $0.sender, raw: $0.raw, verb: $0.verb, payload: $0.payload, replyCode: $0.replyCode)
            }
        }
        let served = try await fields(server.store)
        let proxied = try await fields(proxy.store)
        // The same messages, but one: the server answered HELO after the bare DATA had crossed the
        // wire, so the proxy records that DATA before the reply and its payload line after it, in
        // wire order; serve, the lab server itself, answers the DATA once its payload is in.
        #expect(proxied.count == 23)
        #expect(Array(proxied.prefix(17)) == Array(served.prefix(17)))
        #expect(proxied[17...].map { "\($0.sender) \(String(decoding: $0.raw, as: UTF8.self)) \($0.verb ?? "-") \($0.payload.map { String(decoding: $0, as: UTF8.self) } ?? "-")" }
            == ["client DATA\n DATA -", "server 100 OK\n - -", "client late payload\n - late payload", "server 300 DRCV\n - -",
                "client QUIT\n QUIT -", "server 200 BYE\n - -"])
        #expect(proxied.compactMap(\.verb) == ["HELO", "DATA", "DATA", "FOO", "helo", "DATA", "HELO", "HELO", "DATA", "QUIT"])
        let session = try #require(try await RecordedRows.sessions(proxy.store).first)
        #expect(session.decoding == "lab")
        #expect(session.endReason == "server_closed")
    }

    @Test(arguments: TestBackend.allCases)
    func linesDecodingCompletesAPartialLineWhenTheOtherSideSpeaks(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let upstream = try TestListener()
        let proxy = try await ProxyHarness.start(upstreamPort: upstream.port, store: try backend.freshStore(in: directory)) {
            $0.decoding = .lines
            $0.maxLineLength = 16
        }
        let client = try TestSocket.connect(port: proxy.port)
        let server = try await onThread { try upstream.accept() }
        try client.send(Array("one\ntw".utf8))
        #expect(try await onThread { try server.receive(exactly: 6) } == Array("one\ntw".utf8))
        try server.send(Array("ok\n".utf8))
        #expect(try await onThread { try client.receive(exactly: 3) } == Array("ok\n".utf8))
        // Longer than the 16-byte limit: recorded in pieces, nothing dropped.
        try client.send(Array("o\n0123456789abcdefghij\nlast".utf8))
        client.shutdownWrite()
        #expect(try await onThread { try server.receiveAll() }.count == 27)
        server.close()
        _ = try await endedSessions(proxy.store, count: 1)
        await proxy.stop()
        let messages = try await RecordedRows.messages(proxy.store)
        #expect(messages.map(\.rawText) == ["one\n", "tw", "ok\n", "o\n", "0123456789abcdef", "ghij\n", "last"])
        #expect(messages.map(\.sender) == ["client", "client", "server", "client", "client", "client", "client"])
    }
}
