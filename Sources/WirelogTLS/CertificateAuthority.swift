import Crypto
import Foundation
import LabProtocol
import NIOConcurrencyHelpers
import NIOSSL
import Recording
import SwiftASN1
import X509

/// A certificate and its private key, in PEM and ready for NIOSSL.
public struct IssuedCertificate: Sendable {
    public let certificatePEM: String
    public let privateKeyPEM: String
    public let certificate: NIOSSLCertificate
    public let privateKey: NIOSSLPrivateKey
}

/// A local certificate authority, as mitmproxy keeps one: made once (the key file 0600), reused on
/// later runs, and issuing a leaf for each server name on the fly (cached). Tests use it to mint
/// every certificate they need, so no private key is ever committed.
public final class CertificateAuthority: Sendable {
    public let certificatePEM: String
    private let certificate: Certificate
    private let key: Certificate.PrivateKey
    private let leaves = NIOLockedValueBox(LeastRecentlyUsed<String, IssuedCertificate>(capacity: cachedNames))
    /// How many names' leaves are kept (and, in `ServerTLS`, their contexts): the names used most
    /// recently; another is minted again when asked for. Clients pick the names, so a bound is
    /// what keeps memory flat under a stream of new ones (docs/PROXY.md).
    public static let cachedNames = 256

    private init(certificate: Certificate, key: Certificate.PrivateKey) throws {
        self.certificate = certificate
        self.key = key
        self.certificatePEM = try certificate.serializeAsPEM().pemString
    }

    /// A new CA in memory.
    public convenience init(commonName: String = "wirelog local CA") throws {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let name = try DistinguishedName {
            OrganizationName("wirelog")
            CommonName(commonName)
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-3_600), notValidAfter: now.addingTimeInterval(10 * 365 * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: key.publicKey)
            },
            issuerPrivateKey: key)
        try self.init(certificate: certificate, key: key)
    }

    /// The CA kept in `directory` (`ca.pem`, `ca-key.pem`), made there first if it is not yet.
    public static func openOrCreate(directory: String) throws -> (authority: CertificateAuthority, created: Bool) {
        let certificatePath = Self.certificatePath(in: directory)
        let keyPath = (directory as NSString).appendingPathComponent("ca-key.pem")
        let files = FileManager.default
        if files.fileExists(atPath: certificatePath) || files.fileExists(atPath: keyPath) {
            do {
                let certificate = try Certificate(pemEncoded: String(contentsOfFile: certificatePath, encoding: .utf8))
                let key = try Certificate.PrivateKey(pemEncoded: String(contentsOfFile: keyPath, encoding: .utf8))
                guard key.publicKey == certificate.publicKey else { throw TLSSetupError.keyDoesNotMatch(keyPath, certificatePath) }
                return (try CertificateAuthority(certificate: certificate, key: key), false)
            } catch let error as TLSSetupError {
                throw error
            } catch {
                throw TLSSetupError.unreadableAuthority(directory)
            }
        }
        try makeDirectory(directory)
        let authority = try CertificateAuthority()
        try PrivateFile.write(try authority.key.serializeAsPEM().pemString, to: keyPath)
        try PrivateFile.write(authority.certificatePEM, to: certificatePath, mode: 0o644)
        return (authority, true)
    }

    /// `mkdir -p`, each new directory 0700; a failure says why in the system's words (Foundation's
    /// "The operation could not be completed" says nothing).
    private static func makeDirectory(_ directory: String) throws {
        var path = directory.hasPrefix("/") ? "/" : ""
        for component in directory.split(separator: "/") {
            path += component + "/"
            guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
                throw TLSSetupError.cannotMakeAuthority(directory, reason: String(cString: strerror(errno)).lowercased())
            }
        }
    }

    public static func certificatePath(in directory: String) -> String {
        (directory as NSString).appendingPathComponent("ca.pem")
    }

    /// The cached leaf for `name` (a host name or an IP address), issued the first time. A name
    /// a certificate cannot hold (a client's SNI may be anything) is a plain-words `TLSFailure`.
    public func leaf(for name: String) throws -> IssuedCertificate {
        if let leaf = leaves.withLockedValue({ $0.value(for: name) }) { return leaf }
        guard Self.canHold(name) else {
            throw TLSFailure.other("no certificate can be minted for the server name \"\(Escaping.escape(Array(name.utf8)))\": it is not a host name")
        }
        let leaf = try issue(names: [name])
        leaves.withLockedValue { $0.set(leaf, for: name) }
        return leaf
    }

    /// How many names' leaves are kept now (at most `cachedNames`).
    var cachedLeafCount: Int { leaves.withLockedValue { $0.count } }

    /// A host name of letters, digits, '-', '_', '.' and '*' (ASCII, as a certificate's DNS names
    /// must be), or an IP address.
    static func canHold(_ name: String) -> Bool {
        if IPAddressText.bytes(name) != nil { return true }
        return !name.isEmpty && name.utf8.count <= 253 && name.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || Array("-_.*".utf8).contains(byte)
        }
    }

    /// A new leaf for `names` (host names or IP addresses; the first is also its common name),
    /// for servers and clients alike. Tests pass their own validity to make an expired one.
    public func issue(names: [String], notValidBefore: Date = Date().addingTimeInterval(-3_600),
                      notValidAfter: Date = Date().addingTimeInterval(397 * 86_400)) throws -> IssuedCertificate {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let alternativeNames = names.map { name -> GeneralName in
            if let address = IPAddressText.bytes(name) { return .ipAddress(ASN1OctetString(contentBytes: address[...])) }
            return .dnsName(name)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
            notValidBefore: notValidBefore, notValidAfter: notValidAfter,
            issuer: self.certificate.subject,
            subject: try DistinguishedName {
                OrganizationName("wirelog")
                CommonName(names.first ?? "wirelog")
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames(alternativeNames)
                SubjectKeyIdentifier(hash: key.publicKey)
                AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: self.certificate.publicKey).keyIdentifier)
            },
            issuerPrivateKey: self.key)
        let certificatePEM = try certificate.serializeAsPEM().pemString
        let keyPEM = try key.serializeAsPEM().pemString
        return IssuedCertificate(
            certificatePEM: certificatePEM, privateKeyPEM: keyPEM,
            certificate: try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem),
            privateKey: try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem))
    }
}

