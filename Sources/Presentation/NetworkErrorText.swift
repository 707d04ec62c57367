import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Failures of connecting, listening and talking in plain words (`connection refused`,
/// `address already in use`), for one line a person reads: never a library's own dump of its
/// error values.
public enum NetworkErrorText {
    public static func reason(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            // Every address of the host failed: the first failure says why.
            if let first = error.connectionErrors.first { return reason(first.error) }
            if error.dnsAError != nil || error.dnsAAAAError != nil { return "cannot resolve the host name \(error.host)" }
            return "no address to connect to"
        case let error as IOError:
            return reason(errno: error.errnoCode)
        case let error as SocketAddressError.UnknownHost:
            return "cannot resolve the host name \(error.host)"
        case let error as SocketAddressError:
            if case .unknown(let host, _) = error { return "cannot resolve the host name \(host)" }
            return "not an address: \(error)"
        case let error as ChannelError:
            switch error {
            case .connectTimeout(let amount):
                return "no answer within \(DurationText.micros(amount.nanoseconds / 1_000))"
            case .ioOnClosedChannel, .alreadyClosed, .outputClosed, .inputClosed, .eof:
                return "the connection is closed"
            default:
                return "\(error)"
            }
        default:
            return "\(error)"
        }
    }

    /// Whether nothing listened there: the connection was refused (on every address of the host).
    public static func isRefusal(_ error: any Error) -> Bool {
        switch error {
        case let error as NIOConnectionError: error.connectionErrors.first.map { isRefusal($0.error) } ?? false
        case let error as IOError: error.errnoCode == ECONNREFUSED
        default: false
        }
    }

    /// What a failed socket call's errno means, in lower case.
    public static func reason(errno code: CInt) -> String {
        switch code {
        case EADDRNOTAVAIL: "that address is not one of this machine's"
        case EACCES: "permission denied (ports below 1024 need privileges)"
        case ECONNRESET: "the connection was reset by the other side"
        case EPIPE: "the other side closed the connection"
        case EHOSTUNREACH: "no route to the host"
        default: String(cString: strerror(code)).lowercased()
        }
    }
}
