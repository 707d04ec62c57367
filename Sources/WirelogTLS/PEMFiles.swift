import Foundation
import NIOSSL
import X509

/// Certificates and keys read from the PEM files users name, with errors in their words.
public enum PEMFiles {
    /// Every certificate in `path`, leaf first (a chain is allowed).
    public static func certificates(_ path: String) throws -> [NIOSSLCertificate] {
        let bytes = try read(path)
        guard let chain = try? NIOSSLCertificate.fromPEMBytes(bytes), !chain.isEmpty else {
            throw TLSSetupError.noCertificate(path)
        }
        return chain
    }

    public static func privateKey(_ path: String) throws -> NIOSSLPrivateKey {
        let bytes = try read(path)
        guard let key = try? NIOSSLPrivateKey(bytes: bytes, format: .pem) else { throw TLSSetupError.noPrivateKey(path) }
        return key
    }

    /// A certificate chain with its key, checked to belong together.
    public static func identity(certificate: String, key: String) throws -> (chain: [NIOSSLCertificate], key: NIOSSLPrivateKey) {
        let chain = try certificates(certificate)
        let privateKey = try privateKey(key)
        // Key types swift-certificates reads are compared here; BoringSSL checks any other when the
        // context is made.
        if let leaf = try? Certificate(derEncoded: chain[0].toDERBytes()),
           let own = try? Certificate.PrivateKey(pemEncoded: String(decoding: read(key), as: UTF8.self)),
           own.publicKey != leaf.publicKey {
            throw TLSSetupError.keyDoesNotMatch(key, certificate)
        }
        return (chain, privateKey)
    }

    private static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"
            throw TLSSetupError.unreadable(path, reason: reason)
        }
        return Array(data)
    }
}
