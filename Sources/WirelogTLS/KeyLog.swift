import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// The NSS key log (`--keylog FILE`, `SSLKEYLOGFILE`): one line per TLS secret, appended, so that
/// Wireshark can decrypt a capture of the same traffic. Created 0600; the secrets never reach a log.
public final class KeyLog: Sendable {
    public let path: String
    private let descriptor: NIOLockedValueBox<Int32>

    public init(path: String) throws {
        // An existing file is narrowed to its owner too: it is about to hold secrets.
        self.descriptor = NIOLockedValueBox(try PrivateFile.open(path, appending: true))
        self.path = path
    }

    deinit {
        descriptor.withLockedValue { _ = close($0) }
    }

    /// For `TLSConfiguration.keyLogCallback`: NIOSSL hands over whole lines, newline included.
    public var callback: NIOSSLKeyLogCallback {
        { [self] line in
            descriptor.withLockedValue { fd in
                line.withUnsafeReadableBytes { _ = PrivateFile.systemWrite(fd, $0) }
            }
        }
    }
}
