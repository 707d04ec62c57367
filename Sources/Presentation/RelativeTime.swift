import Foundation

/// Times for people: local wall-clock stamps, offsets within a session, sizes. (Lengths of time:
/// `DurationText`.)
public enum RelativeTime {
    /// `2026-11-24 18:03:15+01:00`, or with `fractionDigits` (1…6) `2026-11-24 18:03:15.123+01:00`:
    /// local time with its offset from UTC, `Z` when local time is UTC. Every time a person reads
    /// comes from here, and `TimeArgument` reads it back.
    public static func localTimestamp(_ micros: Int64, fractionDigits: Int = 0) -> String {
        var seconds = time_t(micros.floorDiv(1_000_000))
        var parts = tm()
        localtime_r(&seconds, &parts)
        var text = String(format: "%04d-%02d-%02d %02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                          Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        if fractionDigits > 0 {
            let fraction = String(format: "%06lld", micros.floorMod(1_000_000))
            text += "." + fraction.prefix(min(fractionDigits, 6))
        }
        let offsetMinutes = Int(parts.tm_gmtoff) / 60
        guard offsetMinutes != 0 else { return text + "Z" }
        return text + (offsetMinutes < 0 ? "-" : "+") + String(format: "%02d:%02d", abs(offsetMinutes) / 60, abs(offsetMinutes) % 60)
    }

    /// `2026-11-24T18:03:15.123456Z`, for JSON.
    public static func isoUTC(_ micros: Int64) -> String {
        var seconds = time_t(micros.floorDiv(1_000_000))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec),
                      micros.floorMod(1_000_000))
    }

    /// A time within a session: `+0.000s`, `+12.345s`, `+2m03.456s`, `+1h02m03.456s`.
    public static func offset(_ micros: Int64) -> String {
        let sign = micros < 0 ? "-" : "+"
        let magnitude = micros.magnitude
        let millis = magnitude / 1_000
        let seconds = millis / 1_000, fraction = String(format: "%03llu", millis % 1_000)
        if seconds < 60 { return "\(sign)\(seconds).\(fraction)s" }
        let minutes = seconds / 60
        if minutes < 60 { return "\(sign)\(minutes)m" + String(format: "%02llu", seconds % 60) + ".\(fraction)s" }
        return "\(sign)\(minutes / 60)h" + String(format: "%02llum%02llu", minutes % 60, seconds % 60) + ".\(fraction)s"
    }

    /// `1.5 KiB`, `12 B`, `3.2 MiB`.
    public static func bytes(_ count: Int64) -> String {
        if count < 1024 { return "\(count) B" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var value = Double(count) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return String(format: "%.1f ", value) + units[unit]
    }
}

extension Int64 {
    /// Division rounding toward minus infinity (times before 1970 stay in the right second).
    public func floorDiv(_ divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor < 0) ? quotient - 1 : quotient
    }

    public func floorMod(_ divisor: Int64) -> Int64 {
        let remainder = self % divisor
        return remainder < 0 ? remainder + divisor : remainder
    }
}
