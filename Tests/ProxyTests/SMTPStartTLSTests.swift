import Backends
import Foundation
import Proxy
import Recording
import Testing
import TestSupport
import WirelogTLS

/// Python's smtplib with starttls() and AUTH through `proxy --starttls` to aiosmtpd: the mail and
/// the commands after the switch are in the store as plaintext, the password is not (smtp-auth).
/// About 4 s.
@Suite(.serialized) struct SMTPStartTLSTests {
    static let password = "smtp-starttls-secret"

    /// Prints whether STARTTLS is offered before and (when it switched) after the switch, then sends
    /// a mail after logging in with LOGIN.
    private static func client(_ directory: TemporaryDirectory, port: Int, ca: String?) async throws -> String {
        let script = directory.file("smtp_client.py")
        try Data("""
            import smtplib, ssl, sys
            client = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
            client.ehlo()
            print("offered" if client.has_extn("starttls") else "not offered")
            if len(sys.argv) > 2:
                client.starttls(context=ssl.create_default_context(cafile=sys.argv[2]))
                client.ehlo()
                print("offered again" if client.has_extn("starttls") else "not offered again")
            client.user, client.password = "alice", "\(password)"
            code, _ = client.auth("LOGIN", client.auth_login)
            print(code)
            client.sendmail("alice@test", ["bob@test"], "Subject: plaintext-mail-marker\\r\\n\\r\\nhello\\r\\n")
            client.quit()
            """.utf8).write(to: URL(fileURLWithPath: script))
        return try await onThread { try Program.run("/usr/bin/python3", [script, String(port)] + (ca.map { [$0] } ?? [])) }
    }

    @Test(arguments: TestBackend.allCases)
    func starttlsAndAuthWithBothLegsSwitched(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let serverCertificates = try TestCertificates(in: directory, prefix: "server-")
        let proxyCertificates = try TestCertificates(in: directory, prefix: "proxy-")
        let smtpPort = try freePort()
        let smtp = try SMTPServerFixture.start(in: directory, port: smtpPort, password: Self.password, certificates: serverCertificates, requireTLS: true)
        defer { smtp.stop() }
        try await waitUntilListening(port: smtpPort)
        let store = try backend.freshStore(in: directory)
        let proxy = try await ProxyHarness.start(upstreamPort: smtpPort, store: store, redaction: RedactionPreset.smtpAuth.rules()) {
            $0.startTLS = true
            $0.tls = try? proxyCertificates.serverTLS()
            var settings = ClientTLSSettings()
            settings.trust = .authorities(path: serverCertificates.caPath)
            $0.upstreamTLS = try? ClientTLS(settings)
        }
        let output = try await Self.client(directory, port: proxy.port, ca: proxyCertificates.caPath)
        #expect(output == "offered\nnot offered again\n235\n")
        let sessions = try await endedSessions(store, count: 1)
        await proxy.stop()

        #expect(sessions.map(\.decoding) == ["smtp"])
        #expect(try StoreFiles.occurrences(of: "plaintext-mail-marker", in: store) == 1)
        for secret in [Self.password, Data(Self.password.utf8).base64EncodedString()] {
            #expect(try StoreFiles.occurrences(of: secret, in: store) == 0, "\(secret)")
        }
        let messages = try await RecordedRows.messages(store, session: sessions[0].id)
        let verbs = messages.compactMap(\.verb)
        #expect(verbs.prefix(3) == ["EHLO", "STARTTLS", "EHLO"], "\(verbs)")
        #expect(verbs.contains("AUTH") && verbs.contains("DATA") && verbs.last == "QUIT")
        let switchSeq = try #require(messages.first { $0.verb == "STARTTLS" }?.seq).advanced(by: 1)  // the upstream's 220
        let tls = try #require(try await tlsSessions(store).first?.tls)
        #expect(tls.client?.startTLSAfterSeq == switchSeq && tls.server?.startTLSAfterSeq == switchSeq)
        #expect(tls.server?.version != nil && tls.client?.version != nil)
        let shown = try WirelogProcess.run(["sessions", "show", String(sessions[0].id), "--db", store.argument])
        #expect(shown.stdoutText.contains("── switched to TLS (STARTTLS)"), "\(shown.stdoutText)")
        #expect(!shown.stdoutText.contains(Self.password))
    }

    /// A plain upstream that offers STARTTLS: the proxy answers it and the upstream leg stays plain
    /// (the upstream would have refused AUTH on plain otherwise: it does not ask for TLS here).
    /// Without a certificate the offer is taken out and the client goes on in plaintext.
    @Test func theProxyAnswersStartTLSForAPlainUpstreamAndHidesItWithoutACertificate() async throws {
        let directory = TemporaryDirectory()
        let serverCertificates = try TestCertificates(in: directory, prefix: "server-")
        let proxyCertificates = try TestCertificates(in: directory, prefix: "proxy-")
        let smtpPort = try freePort()
        let smtp = try SMTPServerFixture.start(in: directory, port: smtpPort, password: Self.password, certificates: serverCertificates)
        defer { smtp.stop() }
        try await waitUntilListening(port: smtpPort)
        let store = try TestBackend.sqlite.freshStore(in: directory)
        let answering = try await ProxyHarness.start(upstreamPort: smtpPort, store: store) {
            $0.startTLS = true
            $0.tls = try? proxyCertificates.serverTLS()
        }
        #expect(try await Self.client(directory, port: answering.port, ca: proxyCertificates.caPath) == "offered\nnot offered again\n235\n")
        let refusing = try await ProxyHarness.start(upstreamPort: smtpPort, store: store) { $0.startTLS = true }
        #expect(try await Self.client(directory, port: refusing.port, ca: nil) == "not offered\n235\n")
        let sessions = try await endedSessions(store, count: 2)
        await answering.stop()
        await refusing.stop()
        let summaries = try await tlsSessions(store)
        #expect(summaries.compactMap { $0.tls?.client?.startTLSAfterSeq }.count == 1)
        #expect(summaries.allSatisfy { $0.tls?.server == nil })
        #expect(sessions.allSatisfy { $0.decoding == "smtp" })
        #expect(try StoreFiles.occurrences(of: "plaintext-mail-marker", in: store) == 2)
    }

    /// One whole SMTP reply from `socket` (up to its `ddd ` line).
    private static func reply(_ socket: TestSocket) throws -> String {
        var text = ""
        while !text.split(separator: "\r\n").contains(where: { $0.count >= 4 && $0.dropFirst(3).first == " " }) {
            guard let chunk = try socket.receive() else { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        return text
    }

    /// The injection case (commands pipelined behind STARTTLS are dropped, never carried into the
    /// TLS session), garbage for a ClientHello, and an upstream that answers `454` under
    /// --upstream-tls: each ends its session with its reason, and the proxy goes on.
    @Test func pipelinedCommandsAfterStartTLSAreDroppedAndAnUpstreamRefusalEndsTheSession() async throws {
        let directory = TemporaryDirectory()
        let certificates = try TestCertificates(in: directory)
        let smtpPort = try freePort()
        let smtp = try SMTPServerFixture.start(in: directory, port: smtpPort, password: Self.password)
        defer { smtp.stop() }
        try await waitUntilListening(port: smtpPort)
        let store = try TestBackend.sqlite.freshStore(in: directory)
        let answering = try await ProxyHarness.start(upstreamPort: smtpPort, store: store) {
            $0.startTLS = true
            $0.tls = try? certificates.serverTLS()
        }
        let injected = try TestSocket.connect(port: answering.port)
        #expect(try Self.reply(injected).hasPrefix("220 "))
        try injected.send(Array("EHLO client.test\r\n".utf8))
        #expect(try Self.reply(injected).hasPrefix("250-"))
        try injected.send(Array("STARTTLS\r\nMAIL FROM:<injected@test>\r\n".utf8))
        #expect(try Self.reply(injected) == "220 2.0.0 Ready to start TLS\r\n")
        try injected.send(Array("this is no ClientHello\r\n".utf8))
        #expect(try injected.receive() == nil)
        injected.close()
        let first = try await endedSessions(store, count: 1)
        await answering.stop()
        #expect(first.map(\.endReason) == ["tls_handshake_failed"])
        let messages = try await RecordedRows.messages(store, session: first[0].id)
        // The MAIL line is recorded as sent, but the server never got it: it answered only the greeting and EHLO.
        #expect(messages.contains { $0.sender == "client" && $0.rawText.contains("injected@test") })
        #expect(messages.filter { $0.sender == "server" }.count == 2)

        let refusing = try await ProxyHarness.start(upstreamPort: smtpPort, store: store) {
            $0.startTLS = true
            $0.tls = try? certificates.serverTLS()
            $0.upstreamTLS = try? certificates.clientTLS()
        }
        let refused = try TestSocket.connect(port: refusing.port)
        #expect(try Self.reply(refused).hasPrefix("220 "))
        try refused.send(Array("EHLO client.test\r\n".utf8))
        #expect(try Self.reply(refused).hasPrefix("250-"))
        try refused.send(Array("STARTTLS\r\n".utf8))
        #expect(try refused.receive() == nil)  // the upstream said 454: closed, nothing in plaintext
        refused.close()
        let both = try await endedSessions(store, count: 2)
        await refusing.stop()
        #expect(both.compactMap(\.endReason).sorted() == ["starttls_refused", "tls_handshake_failed"])
    }
}
