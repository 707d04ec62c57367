import Backends
import Foundation
import NIOCore
import Proxy
import Recording
import Testing
import TestSupport
import WirelogTLS

/// A second throwaway PostgreSQL cluster (`scripts/pg-test-cluster`) with TLS switched on by SQL,
/// its certificate and key in the cluster's directory, owned by the user it runs as (`postgres`
/// when the tests run as root), mode 0600 as it insists. Stopped and removed by `stop`.
final class TLSPostgresCluster: @unchecked Sendable {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/pg-test-cluster").path
    let url: String
    let port: Int
    private let directory: String

    init(certificates: TestCertificates) throws {
        let started = try WirelogProcess(["start"], executable: Self.script).wait(timeout: 120)
        guard started.status == 0 else { throw SocketError.failed("pg-test-cluster start: \(started.stderrText)", 0) }
        func exported(_ name: String) -> String? {
            started.stdoutText.split(separator: "\n").first { $0.hasPrefix("export \(name)=") }
                .map { String($0.dropFirst("export \(name)=".count)) }
        }
        guard let url = exported("WIRELOG_TEST_POSTGRES_URL"), let directory = exported("WIRELOG_TEST_POSTGRES_DIR"),
              let port = URLComponents(string: url)?.port else {
            throw SocketError.failed("pg-test-cluster start said \(started.stdoutText)", 0)
        }
        (self.url, self.port, self.directory) = (url, port, directory)
        do {
            for (file, source) in [("server.crt", certificates.leafPath), ("server.key", certificates.keyPath)] {
                let path = "\(directory)/\(file)"
                try FileManager.default.copyItem(atPath: source, toPath: path)
                var attributes: [FileAttributeKey: Any] = [.posixPermissions: 0o600]
                if getuid() == 0 { attributes[.ownerAccountName] = "postgres" }
                try FileManager.default.setAttributes(attributes, ofItemAtPath: path)
            }
            for setting in ["ssl_cert_file = '\(directory)/server.crt'", "ssl_key_file = '\(directory)/server.key'", "ssl = on"] {
                try TestPostgres.psql(url, "ALTER SYSTEM SET \(setting)")
            }
            try TestPostgres.psql(url, "SELECT pg_reload_conf()")
        } catch {
            stop()
            throw error
        }
    }

    /// Waits until new connections are offered TLS (a reload takes effect shortly after it returns).
    func waitForTLS() async throws {
        let deadline = Date().addingTimeInterval(15)
        while (try? TestPostgres.psql(url + "?sslmode=require", "SELECT 1")) != "1" {
            guard Date() < deadline else { throw SocketError.timedOut("TLS on the test cluster") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func stop() {
        _ = try? WirelogProcess(["stop", directory], executable: Self.script).wait(timeout: 60)
    }
}

/// psql and pgbench through `proxy --starttls`: the SSLRequest is answered by the proxy, both legs
/// switch to TLS where the upstream has it, and the store holds the plaintext on both sides of the
/// switch, never the ciphertext. About 6 s, most of it making the TLS cluster.
@Suite(.serialized) struct PostgresStartTLSTests {
    private static func psql(_ connection: String, _ arguments: [String]) async throws -> String {
        try await onThread { try Program.run("psql", ["-X", "-w", "-At", "-d", connection] + arguments) }
    }

    @Test func psqlRequireAndVerifyFullAndPgbenchWithBothLegsSwitched() async throws {
        let directory = TemporaryDirectory()
        let serverCertificates = try TestCertificates(in: directory, prefix: "server-")
        let cluster = try TLSPostgresCluster(certificates: serverCertificates)
        defer { cluster.stop() }
        try await cluster.waitForTLS()
        let mint = try CertificateAuthority(commonName: "wirelog test mint")
        let mintPath = directory.file("mint-ca.pem")
        try mint.certificatePEM.write(toFile: mintPath, atomically: true, encoding: .utf8)
        let keyLogPath = directory.file("keys.log")
        let keyLog = try KeyLog(path: keyLogPath)
        let store = try TestBackend.sqlite.freshStore(in: directory)
        let proxy = try await ProxyHarness.start(upstreamPort: cluster.port, store: store) {
            $0.startTLS = true
            $0.tls = try? ServerTLS(identity: .minted(mint, defaultName: "127.0.0.1"), keyLog: keyLog, start: .whenTold)
            var settings = ClientTLSSettings()
            settings.trust = .authorities(path: serverCertificates.caPath)
            settings.keyLog = keyLog
            $0.upstreamTLS = try? ClientTLS(settings)
        }
        let sslQuery = ["-c", "SELECT 'plaintext-marker-' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", "-c", "\\conninfo"]
        let required = try await Self.psql("postgresql://wirelog@127.0.0.1:\(proxy.port)/wirelog?sslmode=require", sslQuery)
        #expect(required.hasPrefix("plaintext-marker-true\n"), "\(required)")  // the server saw TLS
        #expect(required.contains("SSL connection (protocol: TLSv1.3"), "\(required)")  // and so did psql
        let verified = try await Self.psql(
            "host=localhost hostaddr=127.0.0.1 port=\(proxy.port) user=wirelog dbname=wirelog sslmode=verify-full sslrootcert=\(mintPath)",
            ["-c", "SELECT 'verified-marker'"])
        #expect(verified == "verified-marker\n")
        let script = directory.file("bench.sql")
        try "SELECT 'bench-marker';\n".write(toFile: script, atomically: true, encoding: .utf8)
        let bench = try await onThread {
            try Program.run("pgbench", ["-n", "-c", "2", "-t", "20", "-f", script,
                                        "postgresql://wirelog@127.0.0.1:\(proxy.port)/wirelog?sslmode=require"], timeout: 60)
        }
        #expect(bench.contains("number of failed transactions: 0"), "\(bench)")
        let sessions = try await endedSessions(store, count: 4)
        await proxy.stop()

        #expect(sessions.allSatisfy { $0.decoding == "postgres" && $0.endReason == "client_closed" }, "\(sessions)")
        for marker in ["plaintext-marker-", "verified-marker", "bench-marker"] {
            #expect(try StoreFiles.occurrences(of: marker, in: store) > 0, "\(marker)")
        }
        let summaries = try await tlsSessions(store)
        for summary in summaries {
            // SSLRequest (1) and the upstream's S (2), then the TLS session's plaintext.
            #expect(summary.tls?.client?.startTLSAfterSeq == 2 && summary.tls?.server?.startTLSAfterSeq == 2, "\(String(describing: summary.tls))")
            #expect(summary.tls?.client?.version == "TLSv1.3" && summary.tls?.server?.peerSubject != nil)
        }
        #expect(summaries.contains { $0.tls?.client?.sni == "localhost" })
        let first = try #require(sessions.map(\.id).min())
        let messages = try await RecordedRows.messages(store, session: first)
        #expect(messages.first?.verb == "SSLRequest")
        #expect(messages.dropFirst().first?.sender == "server" && messages.dropFirst().first?.rawText == "S")
        #expect(messages.dropFirst(2).first?.verb == "StartupMessage", "\(messages.map(\.verb))")
        #expect(messages.contains { $0.sender == "server" && $0.verb == "AuthenticationOk" })
        // No TLS record reached the store: every message after the switch decoded as PostgreSQL.
        #expect(messages.allSatisfy { $0.raw.first != 0x16 })
        let keys = try String(contentsOfFile: keyLogPath, encoding: .utf8)
        // Both legs of each connection: the client's and the upstream's.
        #expect(keys.components(separatedBy: "CLIENT_TRAFFIC_SECRET_0 ").count - 1 >= 2 * sessions.count)

        let shown = try WirelogProcess.run(["sessions", "show", String(first), "--db", store.argument])
        #expect(shown.stdoutText.contains("switched to TLS after message 2"), "\(shown.stdoutText)")
        let lines = shown.stdoutText.split(separator: "\n").map(String.init)
        let switchLine = try #require(lines.firstIndex { $0.contains("── switched to TLS (STARTTLS)") })
        #expect(lines[switchLine + 1].contains("StartupMessage") || lines[switchLine + 1].contains("wirelog"), "\(lines)")
    }

    /// The same server through proxies that cannot read it: one without --starttls forwards the
    /// TLS it does not hold the keys of (and records ciphertext), one whose upstream certificate
    /// does not verify ends the session `upstream_tls_failed`.
    @Test func withoutStartTLSTheProxyForwardsTheTLSItCannotReadAndABadUpstreamCertificateFails() async throws {
        let directory = TemporaryDirectory()
        let serverCertificates = try TestCertificates(in: directory, prefix: "server-")
        let cluster = try TLSPostgresCluster(certificates: serverCertificates)
        defer { cluster.stop() }
        try await cluster.waitForTLS()
        let store = try TestBackend.sqlite.freshStore(in: directory)
        let transparent = try await ProxyHarness.start(upstreamPort: cluster.port, store: store)
        let marker = ["-c", "SELECT 'ciphertext-' || 'marker'"]
        let through = try await Self.psql("postgresql://wirelog@127.0.0.1:\(transparent.port)/wirelog?sslmode=require", marker)
        #expect(through == "ciphertext-marker\n")
        _ = try await endedSessions(store, count: 1)
        await transparent.stop()
        #expect(try StoreFiles.occurrences(of: "ciphertext-", in: store) == 0)
        #expect(try await RecordedRows.messages(store).contains { $0.raw.first == 0x16 })  // the ClientHello, as it came

        let otherStore = try TestBackend.sqlite.freshStore(in: directory, name: "other")
        let strangers = try TestCertificates(in: directory, prefix: "stranger-")
        let wrongTrust = try await ProxyHarness.start(upstreamPort: cluster.port, store: otherStore) {
            $0.startTLS = true
            $0.tls = try? strangers.serverTLS()
            $0.upstreamTLS = try? strangers.clientTLS()  // trusts a CA the server's certificate is not from
        }
        await #expect(throws: (any Error).self) {
            try await Self.psql("postgresql://wirelog@127.0.0.1:\(wrongTrust.port)/wirelog?sslmode=require", marker)
        }
        let failed = try await endedSessions(otherStore, count: 1)
        await wrongTrust.stop()
        #expect(failed.map(\.endReason) == ["upstream_tls_failed"])
        let tls = try await tlsSessions(otherStore).first?.tls
        #expect(tls?.server?.failure?.hasPrefix("certificate verify failed") == true, "\(String(describing: tls))")
    }

    /// A server without TLS (the suite's cluster): the client's leg switches and the upstream's
    /// stays plain; under --upstream-tls the upstream's `N` ends the session `starttls_refused`, and
    /// the proxy goes on serving clients that do not ask.
    @Test(arguments: TestBackend.allCases)
    func psqlRequireToAServerWithoutTLSAndItsRefusalUnderUpstreamTLS(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let certificates = try TestCertificates(in: directory)
        let upstream = try TestPostgres.serverAddress()
        let store = try backend.freshStore(in: directory)
        let proxy = try await ProxyHarness.start(upstreamPort: upstream.port, store: store) {
            $0.startTLS = true
            $0.tls = try? certificates.serverTLS()
        }
        let output = try await Self.psql("postgresql://wirelog@127.0.0.1:\(proxy.port)/wirelog?sslmode=require", [
            "-c", "SELECT 'upstream-ssl-' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", "-c", "\\conninfo"])
        #expect(output.hasPrefix("upstream-ssl-false\n") && output.contains("SSL connection (protocol: TLSv1.3"), "\(output)")
        let sessions = try await endedSessions(store, count: 1)
        await proxy.stop()
        #expect(try StoreFiles.occurrences(of: "upstream-ssl-", in: store) > 0)
        let tls = try #require(try await tlsSessions(store).first?.tls)
        #expect(tls.client?.startTLSAfterSeq == 1 && tls.server == nil)  // the proxy answered S: nothing from the server yet
        let messages = try await RecordedRows.messages(store, session: sessions[0].id)
        #expect(messages.map(\.verb).prefix(2) == ["SSLRequest", "StartupMessage"], "\(messages.map(\.verb))")

        let refusing = try await ProxyHarness.start(upstreamPort: upstream.port, store: store) {
            $0.startTLS = true
            $0.tls = try? certificates.serverTLS()
            $0.upstreamTLS = try? certificates.clientTLS()
        }
        await #expect(throws: (any Error).self) {
            try await Self.psql("postgresql://wirelog@127.0.0.1:\(refusing.port)/wirelog?sslmode=require", ["-c", "SELECT 1"])
        }
        let plain = try await Self.psql("postgresql://wirelog@127.0.0.1:\(refusing.port)/wirelog?sslmode=disable", ["-c", "SELECT 'still-serving'"])
        #expect(plain == "still-serving\n")
        let all = try await endedSessions(store, count: 3)
        await refusing.stop()
        #expect(all.filter { $0.id != sessions[0].id }.compactMap(\.endReason).sorted() == ["client_closed", "starttls_refused"])
    }

    /// Bad input from the client: bytes pipelined behind the SSLRequest are dropped, not carried
    /// into TLS; what comes instead of a ClientHello ends the session `tls_handshake_failed`.
    @Test func bytesAfterTheSSLRequestAreDroppedAndGarbageForAClientHelloFails() async throws {
        let directory = TemporaryDirectory()
        let certificates = try TestCertificates(in: directory)
        let upstream = try TestPostgres.serverAddress()
        let store = try TestBackend.sqlite.freshStore(in: directory)
        let proxy = try await ProxyHarness.start(upstreamPort: upstream.port, store: store) {
            $0.startTLS = true
            $0.tls = try? certificates.serverTLS()
        }
        let socket = try TestSocket.connect(port: proxy.port)
        let injected = Array("\0\0\0\u{10}injected-bytes".utf8)
        try socket.send(StartTLSDialectTests.sslRequest + injected)
        #expect(try socket.receive() == Array("S".utf8))
        try socket.send(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        #expect(try socket.receive() == nil)  // closed, nothing carried on
        socket.close()
        let sessions = try await endedSessions(store, count: 1)
        await proxy.stop()
        #expect(sessions.map(\.endReason) == ["tls_handshake_failed"])
        let tls = try await tlsSessions(store).first?.tls
        #expect(tls?.client?.failure?.hasPrefix("not a TLS handshake") == true, "\(String(describing: tls))")
        // Recorded as the client sent them, never forwarded: the upstream got nothing.
        #expect(try StoreFiles.occurrences(of: "injected-bytes", in: store) == 1)
        #expect(sessions[0].bytesFromServer == 0)
    }

    /// The command line: a certificate and `--decode auto` turn --starttls on; it needs a protocol
    /// that can switch.
    @Test func theCommandLineTurnsStartTLSOnWithACertificate() async throws {
        let directory = TemporaryDirectory()
        let certificates = try TestCertificates(in: directory)
        let upstream = try TestPostgres.serverAddress()
        let database = directory.file("p.sqlite")
        let proxy = try WirelogProcess(["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(upstream.port)", "--db", database,
                                        "--tls-cert", certificates.leafPath, "--tls-key", certificates.keyPath])
        let port = try proxy.listeningPort()
        let output = try await Self.psql("postgresql://wirelog@127.0.0.1:\(port)/wirelog?sslmode=require", ["-c", "SELECT 'cli-marker'"])
        #expect(output == "cli-marker\n")
        proxy.signal(SIGTERM)
        let ended = try proxy.wait()
        #expect(ended.failure == nil)
        #expect(ended.stderrText.contains("(TLS or STARTTLS from clients)"), "\(ended.stderrText)")
        let shown = try WirelogProcess.run(["sessions", "show", "1", "--db", database])
        #expect(shown.stdoutText.contains("switched to TLS after message 1"), "\(shown.stdoutText)")
        let wrong = try WirelogProcess.run(["proxy", "--upstream", "127.0.0.1:1", "--decode", "http", "--starttls"])
        #expect(wrong.status != 0 && wrong.stderrText.contains("--starttls needs --decode auto"), "\(wrong.stderrText)")
    }
}
