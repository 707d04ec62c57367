import Recording
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The protocol filters on messages seen live, compared as the stores compare them in SQL.
extension FieldMatch.Comparison {
    func admits(_ value: String) -> Bool {
        switch self {
        case .equals(let expected): value == expected
        // fnmatch without flags is SQLite's GLOB: `*`, `?`, `[…]`, case-sensitive, `/` not special.
        case .glob(let pattern): fnmatch(pattern, value, 0) == 0
        }
    }
}

extension FieldValue {
    /// The value as the field filters compare it.
    var filterText: String {
        switch self {
        case .text(let text): text
        case .integer(let value): String(value)
        case .bool(let value): value ? "true" : "false"
        }
    }
}
