import Backends
import Client
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import Proxy
import Recording
import Server
import Testing
import TestSupport
import WirelogTLS

/// Certificates minted in-process for one test (no private key is ever committed): a CA, and PEM
/// files for a leaf that names `names`.
struct TestCertificates {
    let authority: CertificateAuthority
    let caPath: String
    let leafPath: String
    let keyPath: String

    init(in directory: TemporaryDirectory, names: [String] = ["localhost", "127.0.0.1"], prefix: String = "",
         notValidAfter: Date = Date().addingTimeInterval(86_400)) throws {
        authority = try CertificateAuthority(commonName: "test CA \(prefix)")
        caPath = directory.file("\(prefix)ca.pem")
        leafPath = directory.file("\(prefix)leaf.pem")
        keyPath = directory.file("\(prefix)leaf-key.pem")
        let leaf = try authority.issue(names: names, notValidBefore: notValidAfter.addingTimeInterval(-2 * 86_400), notValidAfter: notValidAfter)
        try authority.certificatePEM.write(toFile: caPath, atomically: true, encoding: .utf8)
        try leaf.certificatePEM.write(toFile: leafPath, atomically: true, encoding: .utf8)
        try leaf.privateKeyPEM.write(toFile: keyPath, atomically: true, encoding: .utf8)
    }

    func serverTLS(start: ServerTLS.HandshakeStart = .whenTold, timeout: TimeAmount = .seconds(10), keyLog: KeyLog? = nil) throws -> ServerTLS {
        let identity = try PEMFiles.identity(certificate: leafPath, key: keyPath)
        return try ServerTLS(identity: .files(chain: identity.chain, key: identity.key), handshakeTimeout: timeout, keyLog: keyLog, start: start)
    }

    func clientTLS() throws -> ClientTLS {
        var settings = ClientTLSSettings()
        settings.trust = .authorities(path: caPath)
        return try ClientTLS(settings)
    }
}

/// The sessions of a store with their TLS details, newest first.
func tlsSessions(_ store: StoreLocation, _ filter: SessionFilter = SessionFilter()) async throws -> [SessionSummary] {
    try await store.withStore(.read) { try await $0.list(filter, limit: 100) }
}

/// TLS through the proxy with real peers: redis both ways, curl to python through a minting proxy,
/// openssl for ALPN. Long tests (real processes): about 10 s together.
@Suite(.serialized) struct TLSPeersTests {
    @Test func redisCliWithTLSThroughATerminatingProxyToPlainRedis() async throws {
        let directory = TemporaryDirectory()
        let certificates = try TestCertificates(in: directory)
        let redisPort = try freePort()
        let redis = try Program("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        defer { redis.stop() }
        try await waitUntilListening(port: redisPort)
        let proxy = try await ProxyHarness.start(upstreamPort: redisPort, store: .sqlite(path: directory.file("p.sqlite"))) {
            $0.tls = try? certificates.serverTLS()
        }
        let tlsArguments = ["--tls", "--cacert", certificates.caPath, "-h", "127.0.0.1", "-p", String(proxy.port)]
        let set = try await onThread { try Program.run("redis-cli", tlsArguments + ["SET", "secret", "plaintext value"]) }
        #expect(set == "OK\n")
        let get = try await onThread { try Program.run("redis-cli", tlsArguments + ["GET", "secret"]) }
        #expect(get == "plaintext value\n")
        _ = try await endedSessions(proxy.store, count: 2)
        await proxy.stop()

        let sessions = try await RecordedRows.sessions(proxy.store)
        let messages = try await RecordedRows.messages(proxy.store, session: sessions[0].id)
        #expect(recordedStream(messages, sender: "client") == Array("*3\r\n$3\r\nSET\r\n$6\r\nsecret\r\n$15\r\nplaintext value\r\n".utf8))
        #expect(recordedStream(messages, sender: "server") == Array("+OK\r\n".utf8))
        let summaries = try await tlsSessions(proxy.store, SessionFilter(tls: true))
        #expect(summaries.count == 2)
        let leg = try #require(summaries.first?.tls?.client)
        #expect(leg.version == "TLSv1.3")
        #expect(leg.cipherSuite?.hasPrefix("TLS_") == true)
        #expect(summaries.first?.tls?.server == nil)
    }

    /// This redis asks for a client certificate: the proxy shows one (`--upstream-cert`).
    @Test func plainRedisCliThroughAnOriginatingProxyToTLSRedis() async throws {
        let directory = TemporaryDirectory()
        let certificates = try TestCertificates(in: directory)
        let clientCertificate = try certificates.authority.issue(names: ["wirelog-proxy"])
        let clientPaths = (directory.file("client.pem"), directory.file("client-key.pem"))
        try clientCertificate.certificatePEM.write(toFile: clientPaths.0, atomically: true, encoding: .utf8)
        try clientCertificate.privateKeyPEM.write(toFile: clientPaths.1, atomically: true, encoding: .utf8)
        let redisPort = try freePort()
        let redis = try Program("redis-server", [
            "--port", "0", "--tls-port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--tls-cert-file", certificates.leafPath, "--tls-key-file", certificates.keyPath,
            "--tls-ca-cert-file", certificates.caPath, "--tls-auth-clients", "yes",
        ])
        defer { redis.stop() }
        try await waitUntilListening(port: redisPort)
        var settings = ClientTLSSettings()
        settings.trust = .authorities(path: certificates.caPath)
        settings.certificatePath = clientPaths.0
        settings.keyPath = clientPaths.1
        let upstreamTLS = try ClientTLS(settings)
        let proxy = try await ProxyHarness.start(upstreamPort: redisPort, store: .sqlite(path: directory.file("p.sqlite"))) {
            $0.upstreamTLS = upstreamTLS
        }
        let reply = try await onThread { try Program.run("redis-cli", ["-p", String(proxy.port), "PING"]) }
        #expect(reply == "PONG\n")
        let sessions = try await endedSessions(proxy.store, count: 1)
        await proxy.stop()
        let messages = try await RecordedRows.messages(proxy.store, session: sessions.last!.id)
        #expect(recordedStream(messages, sender: "client") == Array("*1\r\n$4\r\nPING\r\n".utf8))
        #expect(recordedStream(messages, sender: "server") == Array("+PONG\r\n".utf8))
        let summary = try #require(try await tlsSessions(proxy.store).first { $0.tls?.server != nil })
        #expect(summary.tls?.client == nil)
        #expect(summary.tls?.server?.peerSubject?.contains("CN=localhost") == true)
        #expect(summary.tls?.server?.peerSHA256?.count == 64)
    }

    @Test func curlThroughAMintingProxyGetsALeafForEachName() async throws {
        let directory = TemporaryDirectory()
        let upstream = try TestCertificates(in: directory, names: ["a.test", "b.test", "127.0.0.1"])
        let site = directory.file("site")
        try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
        try "hello over TLS\n".write(toFile: site + "/index.txt", atomically: true, encoding: .utf8)
        let httpPort = try freePort()
        let script = """
            import http.server, ssl, functools
            handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory='\(site)')
            server = http.server.HTTPServer(('127.0.0.1', \(httpPort)), handler)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain('\(upstream.leafPath)', '\(upstream.keyPath)')
            server.socket = context.wrap_socket(server.socket, server_side=True)
            server.serve_forever()
            """
        let python = try Program("python3", ["-c", script])
        defer { python.stop() }
        try await waitUntilListening(port: httpPort)
        let mintDirectory = directory.file("mint")
        let (authority, created) = try CertificateAuthority.openOrCreate(directory: mintDirectory)
        #expect(created)
        let keyMode = try FileManager.default.attributesOfItem(atPath: mintDirectory + "/ca-key.pem")[.posixPermissions] as? Int
        #expect(keyMode == 0o600)
        #expect(try CertificateAuthority.openOrCreate(directory: mintDirectory).created == false)
        let proxy = try await ProxyHarness.start(upstreamPort: httpPort, store: .sqlite(path: directory.file("p.sqlite"))) {
            $0.tls = try? ServerTLS(identity: .minted(authority, defaultName: "127.0.0.1"), start: .whenTold)
            $0.upstreamTLS = try? upstream.clientTLS()
        }
        let mintedCA = CertificateAuthority.certificatePath(in: mintDirectory)
        for name in ["a.test", "b.test"] {
            // curl checks that the leaf names the host it asked for: each name got its own.
            let body = try await onThread {
                try Program.run("curl", ["-sS", "--fail", "--cacert", mintedCA, "--resolve", "\(name):\(proxy.port):127.0.0.1",
                                         "https://\(name):\(proxy.port)/index.txt"])
            }
            #expect(body == "hello over TLS\n")
        }
        _ = try await endedSessions(proxy.store, count: 2)
        await proxy.stop()
        let sessions = try await tlsSessions(proxy.store, SessionFilter(serverName: "b.test"))
        #expect(sessions.count == 1)
        #expect(sessions.first?.tls?.client?.sni == "b.test")
        #expect(sessions.first?.tls?.server?.sni == "b.test")
        let messages = try await RecordedRows.messages(proxy.store, session: sessions[0].id)
        #expect(String(decoding: recordedStream(messages, sender: "client"), as: UTF8.self).hasPrefix("GET /index.txt HTTP/1.1\r\nHost: b.test"))
    }

    @Test func theALPNTheClientOffersIsPassedOnAndTheChoiceBack() async throws {
        let directory = TemporaryDirectory()
        let certificates = try TestCertificates(in: directory)
        let serverPort = try freePort()
        let server = try Program("openssl", [
            "s_server", "-accept", String(serverPort), "-cert", certificates.leafPath, "-key", certificates.keyPath,
            "-alpn", "redis,h2", "-quiet",
        ])
        defer { server.stop() }
        try await waitUntilListening(port: serverPort)
        let proxy = try await ProxyHarness.start(upstreamPort: serverPort, store: .sqlite(path: directory.file("p.sqlite"))) {
            $0.tls = try? certificates.serverTLS()
            $0.upstreamTLS = try? certificates.clientTLS()
        }
        let output = try await onThread {
            try Program.run("openssl", ["s_client", "-connect", "127.0.0.1:\(proxy.port)", "-CAfile", certificates.caPath,
                                        "-alpn", "h2,http/1.1", "-verify_return_error"], timeout: 20)
        }
        #expect(output.contains("ALPN protocol: h2"))
        let sessions = try await endedSessions(proxy.store, count: 1)
        await proxy.stop()
        let summary = try await tlsSessions(proxy.store).first { $0.id == sessions.last!.id }
        #expect(summary?.tls?.client?.alpn == "h2")
        #expect(summary?.tls?.server?.alpn == "h2")
    }
}

/// What goes wrong: not TLS, a stalled handshake, certificates that do not verify. Each ends in
/// one session with its reason and the failure, and the proxy goes on serving.
@Suite struct TLSFaultTests {
    @Test func aPlainTextClientRandomBytesAndAStalledHandshakeAreRecordedAsFailures() async throws {
        let directory = TemporaryDirectory()
        let certificates = try TestCertificates(in: directory)
        let upstream = try TestListener()
        let proxy = try await ProxyHarness.start(upstreamPort: upstream.port, store: .sqlite(path: directory.file("p.sqlite"))) {
            $0.tls = try? certificates.serverTLS(timeout: .milliseconds(300))
        }
        let plain = try TestSocket.connect(port: proxy.port)
        try plain.send(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        let random = try TestSocket.connect(port: proxy.port)
        try random.send((0..<512).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) })
        // The first bytes of a ClientHello, then nothing: the handshake timeout ends it.
        let stalled = try TestSocket.connect(port: proxy.port)
        try stalled.send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03])
        let sessions = try await endedSessions(proxy.store, count: 3)
        #expect(sessions.allSatisfy { $0.endReason == "tls_handshake_failed" })
        let failures = try await tlsSessions(proxy.store).compactMap { $0.tls?.client?.failure }.sorted()
        #expect(failures.contains { $0.hasPrefix("not a TLS handshake (the client sent \"GET / HTTP/1.1") })
        #expect(failures.contains("no complete handshake within 300ms"))
        #expect(failures.count == 3)
        await proxy.stop()
    }

    @Test func anUpstreamWhoseCertificateHasExpiredIsRecordedAsUpstreamTLSFailed() async throws {
        let directory = TemporaryDirectory()
        let expired = try TestCertificates(in: directory, notValidAfter: Date().addingTimeInterval(-86_400))
        let serverPort = try freePort()
        let server = try Program("openssl", ["s_server", "-accept", String(serverPort), "-cert", expired.leafPath,
                                             "-key", expired.keyPath, "-quiet"])
        defer { server.stop() }
        try await waitUntilListening(port: serverPort)
        let proxy = try await ProxyHarness.start(upstreamPort: serverPort, store: .sqlite(path: directory.file("p.sqlite"))) {
            $0.upstreamTLS = try? expired.clientTLS()
        }
        let client = try TestSocket.connect(port: proxy.port)
        try client.send(Array("hello\n".utf8))
        let sessions = try await endedSessions(proxy.store, count: 1)
        #expect(sessions.last?.endReason == "upstream_tls_failed")
        let failure = try await tlsSessions(proxy.store).compactMap { $0.tls?.server?.failure }.first
        #expect(failure?.hasPrefix("certificate verify failed: the certificate of") == true)
        #expect(failure?.hasSuffix("has expired") == true)
        await proxy.stop()
    }

    @Test func aClientThatDoesNotTrustTheCertificateSendsAnAlertThatIsRecorded() async throws {
        let directory = TemporaryDirectory()
        let certificates = try TestCertificates(in: directory)
        let other = try TestCertificates(in: directory, prefix: "other-")
        let upstream = try TestListener()
        let proxy = try await ProxyHarness.start(upstreamPort: upstream.port, store: .sqlite(path: directory.file("p.sqlite"))) {
            $0.tls = try? certificates.serverTLS()
        }
        _ = try? await onThread {
            try Program.run("openssl", ["s_client", "-connect", "127.0.0.1:\(proxy.port)", "-CAfile", other.caPath, "-verify_return_error"])
        }
        let sessions = try await endedSessions(proxy.store, count: 1)
        #expect(sessions.last?.endReason == "tls_handshake_failed")
        let failure = try await tlsSessions(proxy.store).compactMap { $0.tls?.client?.failure }.first
        #expect(failure == "the peer sent alert \"unknown ca\"")
        await proxy.stop()
    }
}

/// The lab server over TLS, wirelog's own client, and the key log.
@Suite struct TLSLabServerTests {
    @Test func theLabServerOverTLSWithTheClientAndAKeyLogThatMatchesOpenSSLs() async throws {
        let directory = TemporaryDirectory()
        let certificates = try TestCertificates(in: directory)
        let keyLogPath = directory.file("keys.log")
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.eventLoopThreads = 1
        configuration.tls = try certificates.serverTLS(start: .immediately, keyLog: try KeyLog(path: keyLogPath))
        var logger = Logger(label: "test.serve")
        logger.logLevel = .error
        let store = StoreLocation.sqlite(path: directory.file("s.sqlite"))
        let server = LabServer(configuration: configuration, sink: try await store.openRecorder(RecorderSettings(), logger: logger), logger: logger)
        let port = try await server.start().port!

        let connection = try await LabConnection.connect(host: "127.0.0.1", port: port, tls: try certificates.clientTLS())
        try await connection.send(Array("HELO\n".utf8))
        #expect(try await connection.readReply() == Array("100 OK\n".utf8))
        try await connection.send(Array("QUIT\n".utf8))
        #expect(try await connection.readReply() == Array("200 BYE\n".utf8))
        await connection.close()

        let opensslKeys = directory.file("openssl-keys.log")
        let output = try await onThread {
            try Program.run("openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", certificates.caPath,
                                        "-keylogfile", opensslKeys], timeout: 20)
        }
        #expect(output.contains("Verify return code: 0 (ok)"))
        // Python's SSLSocket.close() sends no close_notify: a bare FIN, recorded as such.
        let script = """
            import socket, ssl
            context = ssl.create_default_context(cafile='\(certificates.caPath)')
            connection = context.wrap_socket(socket.create_connection(('127.0.0.1', \(port))), server_hostname='localhost')
            connection.sendall(b'HELO\\n')
            print(connection.recv(100).decode(), end='')
            connection.close()
            """
        #expect(try await onThread { try Program.run("python3", ["-c", script]) } == "100 OK\n")
        _ = try await endedSessions(store, count: 3)
        await server.shutdownGracefully(grace: .seconds(5))

        let summaries = try await tlsSessions(store)
        #expect(summaries.allSatisfy { $0.tls?.client?.version == "TLSv1.3" })
        #expect(summaries.map { $0.tls?.client?.closedWith } == [.fin, .closeNotify, nil])
        let mode = try FileManager.default.attributesOfItem(atPath: keyLogPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // Every secret openssl's side logged, wirelog's side logged with the same client random.
        let clientRandoms = { (path: String) throws -> Set<String> in
            Set(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
                let fields = line.split(separator: " ")
                return fields.count == 3 ? String(fields[1]) : nil
            })
        }
        let theirs = try clientRandoms(opensslKeys)
        let ours = try clientRandoms(keyLogPath)
        #expect(!theirs.isEmpty)
        #expect(theirs.isSubset(of: ours))
        #expect(ours.count == 3)
        let messages = try await RecordedRows.messages(store, session: summaries.last!.id)
        #expect(messages.map(\.rawText) == ["HELO\n", "100 OK\n", "QUIT\n", "200 BYE\n"])
    }
}

/// The client library over TLS, where closing takes longest to travel the pipeline.
@Suite struct LabConnectionReleaseTests {
    /// A connection let go the moment its close returns used to trap now and then ("Deinited
    /// NIOAsyncWriter without calling finish()"): the close had not yet reached the async handler.
    @Test func connectionsReleasedAsSoonAsTheyCloseNeverTrap() async throws {
        let directory = TemporaryDirectory()
        let certificates = try TestCertificates(in: directory)
        let serverTLS = try certificates.serverTLS(start: .immediately)
        let server = try await TestServer.start(store: .sqlite(path: directory.file("s.sqlite"))) { $0.tls = serverTLS }
        let clientTLS = try certificates.clientTLS()
        for _ in 0..<200 {
            let connection = try await LabConnection.connect(host: "127.0.0.1", port: server.port, tls: clientTLS)
            try await connection.send(Array("QUIT\n".utf8))
            #expect(try await connection.readReply() == Array("200 BYE\n".utf8))
            await connection.close()
        }
        await server.stop()
    }
}

@Suite struct TLSHelloParserTests {
    @Test func aClientHelloSplitAnywhereGivesItsNameAndProtocols() {
        let name = Array("a.test".utf8)
        let sni: [UInt8] = [0x00, 0x00] + be16(name.count + 5) + be16(name.count + 3) + [0x00] + be16(name.count) + name
        let protocols: [UInt8] = [2] + Array("h2".utf8) + [8] + Array("http/1.1".utf8)
        let alpn: [UInt8] = [0x00, 0x10] + be16(protocols.count + 2) + be16(protocols.count) + protocols
        let extensions = sni + alpn
        let body: [UInt8] = [0x03, 0x03] + Array(repeating: 7, count: 32) + [0] + [0, 2, 0x13, 0x01] + [1, 0] + be16(extensions.count) + extensions
        let handshake: [UInt8] = [1, 0] + be16(body.count) + body
        let record: [UInt8] = [0x16, 0x03, 0x01] + be16(handshake.count) + handshake
        for cut in 0..<record.count {
            guard case .incomplete = TLSHelloParser.clientHello(record.prefix(cut)) else {
                Issue.record("a prefix of \(cut) bytes is not incomplete")
                return
            }
        }
        guard case .hello(let hello) = TLSHelloParser.clientHello(record) else {
            Issue.record("no hello")
            return
        }
        #expect(hello.serverName == "a.test")
        #expect(hello.applicationProtocols == ["h2", "http/1.1"])
        #expect(hello.random == Array(repeating: 7, count: 32))
        guard case .notTLS = TLSHelloParser.clientHello(Array("GET / HTTP/1.1\r\n".utf8)) else {
            Issue.record("plain text taken for TLS")
            return
        }
    }

    private func be16(_ value: Int) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
}

/// The built binary: the TLS options of serve, client, proxy and sessions, wired end to end.
@Suite struct TLSCommandLineTests {
    @Test func serveAndClientOverTLSAndTheSessionsCommandsShowAndFilterIt() async throws {
        let directory = TemporaryDirectory()
        let certificates = try TestCertificates(in: directory)
        let database = directory.file("s.sqlite")
        let serve = try WirelogProcess([
            "serve", "--listen", "127.0.0.1:0", "--db", database,
            "--tls-cert", certificates.leafPath, "--tls-key", certificates.keyPath, "--keylog", directory.file("keys.log"),
        ])
        let port = try serve.listeningPort()
        let clientKeys = directory.file("client-keys.log")
        let client = try WirelogProcess.run(["client", "--tls", "--ca", certificates.caPath, "127.0.0.1:\(port)"],
                                            input: Array("HELO\nDATA\nsecret\n".utf8), environment: ["SSLKEYLOGFILE": clientKeys])
        #expect(client.failure == nil)
        #expect(try String(contentsOfFile: clientKeys, encoding: .utf8).contains("CLIENT_TRAFFIC_SECRET_0 "))
        #expect(try FileManager.default.attributesOfItem(atPath: clientKeys)[.posixPermissions] as? Int == 0o600)
        #expect(client.stdoutText == "100 OK\n300 DRCV\n200 BYE\n")
        let untrusted = try WirelogProcess.run(["client", "--tls", "127.0.0.1:\(port)"], input: Array("HELO\n".utf8))
        #expect(untrusted.status == 1)
        #expect(untrusted.stderrText.contains("TLS handshake failed: certificate verify failed"))
        let replay = try WirelogProcess.run(["replay", "1", "--to", "127.0.0.1:\(port)", "--tls", "--ca", certificates.caPath, "--db", database])
        #expect(replay.status == 0, "\(replay.stdoutText) \(replay.stderrText)")
        let bench = try WirelogProcess.run(["bench", "--to", "127.0.0.1:\(port)", "--tls", "--insecure", "--connections", "2", "--requests", "20"])
        #expect(bench.failure == nil)
        #expect(bench.stdoutText.contains("TLS handshakes  p50"))
        serve.signal(SIGTERM)
        let served = try serve.wait()
        #expect(served.stderrText.contains("whoever reads it can decrypt"))
        #expect(served.stderrText.contains("failed: the peer sent alert"))

        let listed = try WirelogProcess.run(["sessions", "list", "--db", database, "--tls", "--reason", "quit", "--json"])
        #expect(listed.stdoutText.contains(#""tls":{"client":{"cipher_suite":"TLS_AES_128_GCM_SHA256","version":"TLSv1.3"}}"#))
        let shown = try WirelogProcess.run(["sessions", "show", "1", "--db", database])
        #expect(shown.stdoutText.contains("TLS client ↔ wirelog: TLSv1.3 TLS_AES_128_GCM_SHA256"))
        #expect(shown.stdoutText.contains("DATA secret"))
        let none = try WirelogProcess.run(["sessions", "list", "--db", database, "--sni", "elsewhere.test"])
        #expect(!none.stdoutText.contains("quit"))
    }

    @Test func theMintingCAIsMadeOnceWithAPrivateKeyAndNamedInTheLog() throws {
        let directory = TemporaryDirectory()
        let mint = directory.file("mint")
        for expected in ["made a new CA", "using the CA"] {
            let proxy = try WirelogProcess([
                "proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(try closedLoopbackPort())",
                "--db", directory.file("p.sqlite"), "--tls-mint-ca", mint,
            ])
            let log = try proxy.waitForStderr(containing: "listening on")
            #expect(log.contains("\(expected) for minted certificates: trust \(mint)/ca.pem in the clients"))
            proxy.signal(SIGTERM)
            #expect(try proxy.wait().failure == nil)
        }
        let keyMode = try FileManager.default.attributesOfItem(atPath: mint + "/ca-key.pem")[.posixPermissions] as? Int
        #expect(keyMode == 0o600)
        let wrong = try WirelogProcess.run([
            "proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--db", directory.file("q.sqlite"),
            "--tls-cert", directory.file("missing.pem"), "--tls-key", directory.file("missing-key.pem"),
        ])
        #expect(wrong.status == 2)
        #expect(wrong.stderrText == "wirelog: cannot read \(directory.file("missing.pem")): no such file\n")
    }
}

/// The TLS facts in a PostgreSQL store: written as handshakes end, read back, filtered.
@Suite struct TLSPostgresTests {
    @Test func tlsFactsAndFailuresAreStoredAndFilteredInPostgreSQL() async throws {
        let directory = TemporaryDirectory()
        let certificates = try TestCertificates(in: directory)
        let store = try StoreLocation(try TestPostgres.freshDatabaseURL(), option: "--db")
        let upstream = try await TestServer.start(store: .sqlite(path: directory.file("lab.sqlite")))
        let proxy = try await ProxyHarness.start(upstreamPort: upstream.port, store: store) {
            $0.tls = try? certificates.serverTLS()
        }
        let connection = try await LabConnection.connect(host: "localhost", port: proxy.port, tls: try certificates.clientTLS())
        try await connection.send(Array("QUIT\n".utf8))
        #expect(try await connection.readReply() == Array("200 BYE\n".utf8))
        await connection.close()
        let plain = try TestSocket.connect(port: proxy.port)
        try plain.send(Array("HELO\n".utf8))
        _ = try await endedSessions(store, count: 2)
        await proxy.stop()
        await upstream.stop()

        let named = try await tlsSessions(store, SessionFilter(serverName: "localhost"))
        #expect(named.count == 1)
        #expect(named.first?.tls?.client?.version == "TLSv1.3")
        let failed = try await tlsSessions(store, SessionFilter(endReason: "tls_handshake_failed", tls: true))
        #expect(failed.first?.tls?.client?.failure == "not a TLS handshake (the client sent \"HELO\\n\")")
    }
}

/// The TLS acceptor and observer on an `EmbeddedChannel`: failures and the timeout, no sockets.
@Suite struct TLSHandshakeHandlerTests {
    /// Keeps the `TLSEvent`s that reach the end of the pipeline.
    final class Events: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var seen: [TLSEvent] = []

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? TLSEvent { seen.append(event) }
        }

        var failure: String? {
            for case .failed(let leg) in seen { return leg.failure }
            return nil
        }
    }

    private func channel(timeout: TimeAmount) throws -> (EmbeddedChannel, Events) {
        let directory = TemporaryDirectory()
        let certificates = try TestCertificates(in: directory)
        let events = Events()
        let channel = EmbeddedChannel()
        let tls = try withExtendedLifetime(directory) { try certificates.serverTLS(start: .immediately, timeout: timeout) }
        try channel.pipeline.syncOperations.addHandlers(tls.connectionHandlers())
        try channel.pipeline.syncOperations.addHandler(events)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, events)
    }

    @Test func bytesThatAreNotTLSFailAtOnceAndClose() throws {
        let (channel, events) = try channel(timeout: .seconds(10))
        try channel.writeInbound(ByteBuffer(string: "PING\r\n"))
        #expect(events.failure == #"not a TLS handshake (the client sent "PING\r\n")"#)
        #expect(!channel.isActive)
    }

    @Test func aHandshakeThatDoesNotFinishEndsAtTheTimeout() throws {
        let (channel, events) = try channel(timeout: .seconds(10))
        try channel.writeInbound(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00, 0x80, 0x01]))
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(events.failure == nil)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(events.failure == "no complete handshake within 10.0s")
        #expect(!channel.isActive)
    }
}
