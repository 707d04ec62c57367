/// Backend messages wirelog writes itself (the mock's login and misses, the `pg_error` fault).
extension PostgresProtocol {
    /// ReadyForQuery, idle.
    public static let readyForQuery = message("Z", [UInt8(ascii: "I")])

    /// An ErrorResponse (severity ERROR), and ReadyForQuery when the turn it answers asked for one
    /// (it ended in Sync or Query).
    public static func errorResponse(sqlstate: String, message text: String, ready: Bool) -> [UInt8] {
        var fields: [UInt8] = []
        for (code, value) in [("S", "ERROR"), ("V", "ERROR"), ("C", sqlstate), ("M", text)] {
            fields += [UInt8(ascii: Unicode.Scalar(code)!)] + Array(value.utf8.filter { $0 != 0 }) + [0]
        }
        return message("E", fields + [0]) + (ready ? readyForQuery : [])
    }

    /// A typed message (either side's): its type, its length word, its body.
    public static func message(_ type: Unicode.Scalar, _ body: [UInt8]) -> [UInt8] {
        [UInt8(ascii: type)] + int32(body.count + 4) + body
    }

    /// Big-endian, as the protocol's Int32.
    public static func int32(_ value: Int) -> [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
         UInt8(truncatingIfNeeded: value)]
    }
}
