import Foundation
import Testing
import TestSupport
@testable import WirelogTLS

/// Certificates minted per SNI name (`proxy --tls-mint-ca`): the client picks the names, so what
/// is kept per name is bounded (docs/PROXY.md), and a name no certificate can hold is plain words.
@Suite struct MintedCertificateTests {
    @Test func theLeastRecentlyUsedEntryMakesRoom() {
        var cache = LeastRecentlyUsed<String, Int>(capacity: 3)
        cache.set(1, for: "a")
        cache.set(2, for: "b")
        cache.set(3, for: "c")
        #expect(cache.value(for: "a") == 1)  // now b is the least recently used
        cache.set(4, for: "d")
        #expect(cache.count == 3)
        #expect(cache.value(for: "b") == nil)
        #expect(cache.value(for: "a") == 1 && cache.value(for: "c") == 3 && cache.value(for: "d") == 4)
        cache.set(5, for: "c")  // a new value for a kept key pushes nothing out
        #expect(cache.count == 3 && cache.value(for: "c") == 5 && cache.value(for: "a") == 1)
    }

    /// A stream of new names keeps at most `cachedNames` leaves and contexts; a name still in use
    /// keeps its leaf, one not asked for since is minted again.
    @Test func aStreamOfNewNamesKeepsTheCacheBoundedAndTheNamesInUse() throws {
        let authority = try CertificateAuthority()
        let kept = try authority.leaf(for: "kept.test").certificatePEM
        let left = try authority.leaf(for: "left.test").certificatePEM
        let tls = try ServerTLS(identity: .minted(authority, defaultName: "default.test"))
        for index in 0..<(CertificateAuthority.cachedNames + 50) {
            _ = try tls.handlers(for: ClientHello(serverName: "name\(index).test", applicationProtocols: [], random: []), applicationProtocol: nil)
            #expect(try authority.leaf(for: "kept.test").certificatePEM == kept)
        }
        #expect(authority.cachedLeafCount == CertificateAuthority.cachedNames)
        #expect(tls.cachedContextCount == CertificateAuthority.cachedNames)
        #expect(try authority.leaf(for: "left.test").certificatePEM != left)
    }

    /// A client may ask for any name; one a certificate cannot hold fails its handshake in plain
    /// words (not an ASN.1 library's error, which the session would store).
    @Test func aNameNoCertificateCanHoldFailsInPlainWords() throws {
        let tls = try ServerTLS(identity: .minted(try CertificateAuthority(), defaultName: "default.test"))
        for name in ["é.test", "a b.test", "", "\u{1b}[31m.test"] {
            #expect {
                _ = try tls.handlers(for: ClientHello(serverName: name, applicationProtocols: [], random: []), applicationProtocol: nil)
            } throws: { error in
                let text = TLSFailure.describe(error)
                return text.hasPrefix("no certificate can be minted for the server name \"") && text.hasSuffix("\": it is not a host name")
                    && !text.contains("\u{1b}")
            }
        }
    }

    @Test func aCADirectoryThatCannotBeMadeIsOnePlainLine() throws {
        let directory = TemporaryDirectory()
        chmod(directory.path, 0o555)
        let ca = directory.file("ca")
        let result = try WirelogProcess.runWithoutFileAccessPrivileges([
            "proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--tls-mint-ca", ca, "--db", directory.file("x.sqlite"),
        ])
        #expect(result.status == 2)
        #expect(result.stderrText == "wirelog: cannot make the CA directory \(ca): permission denied; give --tls-mint-ca a directory you may write\n")
    }

    /// An upstream that refuses on every address of its name (localhost: ::1 and 127.0.0.1) is
    /// logged in plain words, not as the connector's list of attempts.
    @Test func anUpstreamThatRefusesIsLoggedInPlainWords() async throws {
        let directory = TemporaryDirectory()
        let closed = try closedLoopbackPort()
        let proxy = try WirelogProcess([
            "proxy", "--listen", "127.0.0.1:0", "--upstream", "localhost:\(closed)", "--db", directory.file("p.sqlite"),
        ])
        let client = try TestSocket.connect(port: try proxy.listeningPort())
        let log = try proxy.waitForStderr(containing: "cannot connect to upstream")
        client.close()
        let line = try #require(log.split(separator: "\n").first { $0.contains("cannot connect to upstream") })
        #expect(line.hasSuffix(": connection refused"), "\(line)")
        proxy.signal(SIGTERM)
        #expect(try proxy.wait().failure == nil)
    }
}
