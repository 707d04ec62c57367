/// Why TLS could not be set up from what a user gave: one line each, no library dump.
public enum TLSSetupError: Error, CustomStringConvertible, Equatable {
    case unreadable(String, reason: String)
    case noCertificate(String)
    case noPrivateKey(String)
    case keyDoesNotMatch(String, String)
    case unreadableAuthority(String)
    case cannotWrite(String, reason: String)
    case cannotMakeAuthority(String, reason: String)
    case rejected(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .noCertificate(let path): "\(path) holds no PEM certificate"
        case .noPrivateKey(let path): "\(path) holds no PEM private key (or one protected by a passphrase)"
        case .keyDoesNotMatch(let key, let certificate): "the private key in \(key) does not belong to the certificate in \(certificate)"
        case .unreadableAuthority(let directory): "\(directory) holds a CA wirelog cannot read (ca.pem and ca-key.pem): remove them to make a new one"
        case .cannotWrite(let path, let reason): "cannot write \(path): \(reason)"
        case .cannotMakeAuthority(let directory, let reason):
            "cannot make the CA directory \(directory): \(reason); give --tls-mint-ca a directory you may write"
        case .rejected(let what): "TLS cannot be set up with \(what)"
        }
    }
}
