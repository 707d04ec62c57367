import Backends
import Client
import Foundation
import Proxy
import Recording
import Server
import Testing
import TestSupport
import WirelogTLS

/// One port takes both: with --starttls a client whose first byte is TLS still gets TLS from the
/// start (PostgreSQL 17's direct negotiation, SMTPS, HTTPS), both legs, as without it.
@Suite struct DirectTLSWithStartTLSTests {
    @Test func aClientSpeakingTLSFromTheFirstByteGetsTLSBothWays() async throws {
        let directory = TemporaryDirectory()
        let serverCertificates = try TestCertificates(in: directory, prefix: "server-")
        let proxyCertificates = try TestCertificates(in: directory, prefix: "proxy-")
        let serverTLS = try serverCertificates.serverTLS(start: .immediately)
        let server = try await TestServer.start(store: .sqlite(path: directory.file("s.sqlite"))) { $0.tls = serverTLS }
        let store = try TestBackend.sqlite.freshStore(in: directory)
        let proxy = try await ProxyHarness.start(upstreamPort: server.port, store: store) {
            $0.startTLS = true
            $0.tls = try? proxyCertificates.serverTLS()
            $0.upstreamTLS = try? serverCertificates.clientTLS()
        }
        let connection = try await LabConnection.connect(host: "127.0.0.1", port: proxy.port, tls: try proxyCertificates.clientTLS())
        try await connection.send(Array("HELO\n".utf8))
        #expect(try await connection.readReply() == Array("100 OK\n".utf8))
        try await connection.send(Array("QUIT\n".utf8))
        #expect(try await connection.readReply() == Array("200 BYE\n".utf8))
        await connection.close()
        _ = try await endedSessions(store, count: 1)
        await proxy.stop()
        await server.stop()

        let tls = try #require(try await tlsSessions(store).first?.tls)
        #expect(tls.client?.version == "TLSv1.3" && tls.server?.version == "TLSv1.3", "\(tls)")
        #expect(tls.client?.startTLSAfterSeq == nil && tls.server?.startTLSAfterSeq == nil)
        #expect(try await RecordedRows.messages(store).map(\.rawText) == ["HELO\n", "100 OK\n", "QUIT\n", "200 BYE\n"])
    }
}
