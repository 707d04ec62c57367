import Foundation

/// An IPv4 or IPv6 address written as text (`inet_pton`'s forms), as its 4 or 16 bytes: for
/// certificates' IP names, a `client` condition's range, a pcap's synthetic addresses.
public enum IPAddressText {
    /// Nil for anything else (a host name).
    public static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
