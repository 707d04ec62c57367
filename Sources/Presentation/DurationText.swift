import Foundation

/// Lengths of time for people, in one style wherever they are printed (`sessions list`, `show`,
/// `stats`, `replay`, `bench`): three significant digits below a minute (`711µs`, `1.23ms`,
/// `45.6ms`, `2.50s`, `12.3s`), then two units (`2m03s`, `1h02m`, `3d04h`).
public enum DurationText {
    public static func micros(_ micros: Int64) -> String {
        let value = max(micros, 0)
        if value < 1_000 { return "\(value)µs" }
        if value < 999_500 { return significant(Double(value) / 1_000, unit: "ms") }
        if value < 59_950_000 { return significant(Double(value) / 1_000_000, unit: "s") }
        let seconds = (value + 500_000) / 1_000_000
        switch seconds {
        case ..<3_600: return "\(seconds / 60)m" + twoDigits(seconds % 60) + "s"
        case ..<86_400: return "\(seconds / 3_600)h" + twoDigits(seconds / 60 % 60) + "m"
        default: return "\(seconds / 86_400)d" + twoDigits(seconds / 3_600 % 24) + "h"
        }
    }

    /// Fractional microseconds (histogram figures), rounded to whole ones.
    public static func fractionalMicros(_ micros: Double) -> String {
        self.micros(Int64(micros.rounded()))
    }

    /// Whole seconds, for wall-clock and CPU figures.
    public static func seconds(_ seconds: Double) -> String {
        fractionalMicros(seconds * 1_000_000)
    }

    /// `value` (at least 1, below 1000) with three significant digits.
    private static func significant(_ value: Double, unit: String) -> String {
        let decimals = value < 9.995 ? 2 : value < 99.95 ? 1 : 0
        return String(format: "%.\(decimals)f", value) + unit
    }

    private static func twoDigits(_ value: Int64) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}
