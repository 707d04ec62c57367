import Foundation

/// A length of time: `250ms`, `5s`, `2m`, `1h`, `3d`; a bare number is seconds.
public struct TimeSpan: CustomStringConvertible, Sendable, Equatable {
    public var microseconds: Int64

    /// How a length of time is written, for help texts.
    public static let forms = "250ms, 5s, 2m, 1h, 3d; a bare number is seconds"

    public init(microseconds: Int64) { self.microseconds = microseconds }

    public init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(suffix: String, micros: Double)] = [
            ("ms", 1_000), ("us", 1), ("µs", 1), ("s", 1_000_000), ("m", 60_000_000), ("h", 3_600_000_000), ("d", 86_400_000_000),
        ]
        for unit in units where text.hasSuffix(unit.suffix) {
            guard let value = Double(text.dropLast(unit.suffix.count)), value >= 0, value.isFinite else { return nil }
            self.init(microseconds: Int64(value * unit.micros))
            return
        }
        guard let seconds = Double(text), seconds >= 0, seconds.isFinite else { return nil }
        self.init(microseconds: Int64(seconds * 1_000_000))
    }

    public var milliseconds: Int64 { microseconds / 1_000 }

    public var description: String {
        if microseconds % 86_400_000_000 == 0 && microseconds > 0 { return "\(microseconds / 86_400_000_000)d" }
        if microseconds % 1_000_000 == 0 { return "\(microseconds / 1_000_000)s" }
        return "\(microseconds / 1_000)ms"
    }
}
