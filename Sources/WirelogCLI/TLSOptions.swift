import ArgumentParser
import Foundation
import Logging
import NIOCore
import Presentation
import Recording
import WirelogTLS

/// `--keylog FILE`, else `$SSLKEYLOGFILE`: where TLS secrets are appended for Wireshark.
struct KeyLogOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Append every TLS session's keys to this file in the NSS key-log format, for Wireshark (created 0600; default: $SSLKEYLOGFILE).", valueName: "file"))
    var keylog: String?

    var path: String? {
        if let keylog { return keylog }
        let fromEnvironment = ProcessInfo.processInfo.environment["SSLKEYLOGFILE"]
        return fromEnvironment?.isEmpty == false ? fromEnvironment : nil
    }

    func open(logger: Logger? = nil) throws -> KeyLog? {
        guard let path else { return nil }
        let keyLog = try tlsSetup { try KeyLog(path: path) }
        logger?.warning("writing TLS session keys to \(path): whoever reads it can decrypt these connections")
        return keyLog
    }
}

/// TLS on a listening socket: serve's and the proxy's client side.
struct ListeningTLSOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Accept TLS with this certificate (PEM; intermediates may follow the leaf).", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("The private key of --tls-cert (PEM).", valueName: "file"))
    var tlsKey: String?

    @Option(parsing: .unconditional, help: "Time a TLS client gets to finish its handshake.")
    var tlsHandshakeTimeout = TimeSpan(microseconds: 10_000_000)

    @OptionGroup var keyLog: KeyLogOptions

    func validate() throws {
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        guard tlsHandshakeTimeout.microseconds > 0 else { throw ValidationError("--tls-handshake-timeout must be positive") }
    }

    var handshakeTimeout: TimeAmount { .microseconds(tlsHandshakeTimeout.microseconds) }

    /// With `--tls-cert`/`--tls-key`, or an identity the command makes (the proxy's minting CA).
    func serverTLS(identity other: ServerTLS.Identity? = nil, keyLog: KeyLog?, start: ServerTLS.HandshakeStart = .immediately) throws -> ServerTLS? {
        try tlsSetup {
            var identity = other
            if let tlsCert, let tlsKey {
                let files = try PEMFiles.identity(certificate: tlsCert, key: tlsKey)
                identity = .files(chain: files.chain, key: files.key)
            }
            guard let identity else { return nil }
            return try ServerTLS(identity: identity, handshakeTimeout: handshakeTimeout, keyLog: keyLog, start: start)
        }
    }
}

/// TLS to a server: client, replay, bench.
struct ClientTLSOptions: ParsableArguments {
    @Flag(help: "Connect with TLS.")
    var tls = false

    @Option(help: ArgumentHelp("With --tls: trust only the CA certificates in this PEM file (default: the system's).", valueName: "file"))
    var ca: String?

    @Flag(help: "With --tls: do not verify the server's certificate.")
    var insecure = false

    @Option(help: ArgumentHelp("With --tls: the name to ask for and verify (default: the host connected to).", valueName: "name"))
    var sni: String?

    @OptionGroup var keyLog: KeyLogOptions

    func validate() throws {
        if !tls, ca != nil || insecure || sni != nil { throw ValidationError("--ca, --insecure and --sni need --tls") }
        if ca != nil && insecure { throw ValidationError("--ca and --insecure exclude each other") }
    }

    func clientTLS() throws -> ClientTLS? {
        guard tls else { return nil }
        var settings = ClientTLSSettings(ca: ca, insecure: insecure, serverName: sni)
        settings.keyLog = try keyLog.open()
        return try tlsSetup { try ClientTLS(settings) }
    }
}

/// The proxy's TLS towards its upstream.
struct UpstreamTLSOptions: ParsableArguments {
    @Flag(help: "Speak TLS to the upstream.")
    var upstreamTls = false

    @Option(help: ArgumentHelp("Trust only the CA certificates in this PEM file for the upstream (default: the system's).", valueName: "file"))
    var upstreamCa: String?

    @Option(help: ArgumentHelp("The name to ask the upstream for and verify (default: the client's SNI when terminating TLS, else the upstream host).", valueName: "name"))
    var upstreamSni: String?

    @Flag(help: "Do not verify the upstream's certificate.")
    var upstreamInsecure = false

    @Option(help: ArgumentHelp("A client certificate (PEM) for upstreams that ask for one.", valueName: "file"))
    var upstreamCert: String?

    @Option(help: ArgumentHelp("The private key of --upstream-cert (PEM).", valueName: "file"))
    var upstreamKey: String?

    func validate() throws {
        if !upstreamTls, upstreamCa != nil || upstreamSni != nil || upstreamInsecure || upstreamCert != nil {
            throw ValidationError("--upstream-ca, --upstream-sni, --upstream-insecure and --upstream-cert need --upstream-tls")
        }
        if upstreamCa != nil && upstreamInsecure { throw ValidationError("--upstream-ca and --upstream-insecure exclude each other") }
        guard (upstreamCert == nil) == (upstreamKey == nil) else { throw ValidationError("--upstream-cert and --upstream-key go together") }
    }

    func clientTLS(handshakeTimeout: TimeAmount, keyLog: KeyLog?) throws -> ClientTLS? {
        guard upstreamTls else { return nil }
        var settings = ClientTLSSettings(ca: upstreamCa, insecure: upstreamInsecure, serverName: upstreamSni)
        settings.certificatePath = upstreamCert
        settings.keyPath = upstreamKey
        settings.handshakeTimeout = handshakeTimeout
        settings.keyLog = keyLog
        return try tlsSetup { try ClientTLS(settings) }
    }
}

extension ClientTLSSettings {
    /// From a CA file option, an insecure flag and a name option.
    init(ca: String?, insecure: Bool, serverName: String?) {
        self.init()
        trust = ca.map { .authorities(path: $0) } ?? (insecure ? .none : .system)
        self.serverName = serverName
    }
}

/// TLS that cannot be set up from what was given is one line and exit 2.
func tlsSetup<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as TLSSetupError {
        printError("\(error)")
        throw ExitCode(2)
    }
}
