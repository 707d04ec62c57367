import Foundation

/// Times for people: local wall-clock stamps, offsets within a session, sizes. (Lengths of time:
/// `DurationText`.)
enum RelativeTime {
    /// `2026-11-24 18:03:15+01:00`, or with `fractionDigits` (1…6) `2026-11-24 18:03:15.123+01:00`:
    /// local time with its offset from UTC, `Z` when local time is UTC. Every time a person reads
    /// comes from here, and `TimeArgument` reads it back.
    static func localTimestamp(_ micros: Int64, fractionDigits: Int = 0) -> String {
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
    static func isoUTC(_ micros: Int64) -> String {
        var seconds = time_t(micros.floorDiv(1_000_000))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec),
                      micros.floorMod(1_000_000))
    }

    /// A time within a session: `+0.000s`, `+12.345s`, `+2m03.456s`, `+1h02m03.456s`.
    static func offset(_ micros: Int64) -> String {
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
    static func bytes(_ count: Int64) -> String {
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

/// A point in time given on the command line: ISO 8601 (`2026-11-24`, `2026-11-24T18:00`,
/// `2026-11-24 18:00:05.250Z`, `…+01:00`; local time without a zone) or a time ago (`15m`, `2h`, `3d`).
enum TimeArgument {
    static func parse(_ text: String, nowMicros: Int64) throws -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased() == "now" { return nowMicros }
        if let last = trimmed.last, last.isLetter, last != "Z", trimmed.first?.isNumber == true,
           let ago = TimeSpan(argument: trimmed) {
            return nowMicros - ago.microseconds
        }
        if let micros = parseISO(trimmed) { return micros }
        throw QueryError.usage(
            "cannot read '\(text)' as a time: use ISO 8601 (2026-11-24, 2026-11-24T18:00:00, …Z or …+01:00) or a time ago (15m, 2h, 3d)")
    }

    /// Strict ISO 8601 date or date-time; nil when `text` is not one.
    static func parseISO(_ text: String) -> Int64? {
        var scanner = DigitScanner(Array(text.utf8))
        guard let year = scanner.number(digits: 4), scanner.take("-"), let month = scanner.number(digits: 2),
              scanner.take("-"), let day = scanner.number(digits: 2) else { return nil }
        var hour = 0, minute = 0, second = 0, micros = 0
        if scanner.take("T") || scanner.take("t") || scanner.take(" ") {
            guard let h = scanner.number(digits: 2), scanner.take(":"), let m = scanner.number(digits: 2) else { return nil }
            hour = h
            minute = m
            if scanner.take(":") {
                guard let s = scanner.number(digits: 2) else { return nil }
                second = s
                if scanner.take(".") || scanner.take(",") {
                    guard let (fraction, count) = scanner.fraction() else { return nil }
                    micros = fraction
                    for _ in count..<6 { micros *= 10 }
                }
            }
        }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var offsetSeconds: Int?
        if scanner.take("Z") || scanner.take("z") {
            offsetSeconds = 0
        } else if let sign = scanner.sign() {
            guard let h = scanner.number(digits: 2) else { return nil }
            _ = scanner.take(":")
            guard let m = scanner.number(digits: 2), h < 24, m < 60 else { return nil }
            offsetSeconds = sign * (h * 3600 + m * 60)
        }
        guard scanner.atEnd else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        parts.tm_isdst = -1
        let seconds: Int
        if let offsetSeconds {
            seconds = Int(timegm(&parts)) - offsetSeconds
        } else {
            seconds = Int(mktime(&parts))
        }
        return Int64(seconds) * 1_000_000 + Int64(micros)
    }
}

/// Reads fixed-width numbers and punctuation from ASCII bytes.
private struct DigitScanner {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index == bytes.count }

    mutating func take(_ character: Character) -> Bool {
        guard index < bytes.count, bytes[index] == character.asciiValue else { return false }
        index += 1
        return true
    }

    mutating func number(digits: Int) -> Int? {
        guard index + digits <= bytes.count else { return nil }
        var value = 0
        for byte in bytes[index..<index + digits] {
            guard (0x30...0x39).contains(byte) else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        index += digits
        return value
    }

    /// Up to six fraction digits (more are read and dropped): the value and how many were kept.
    mutating func fraction() -> (Int, Int)? {
        var value = 0, count = 0
        while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
            if count < 6 {
                value = value * 10 + Int(bytes[index] - 0x30)
                count += 1
            }
            index += 1
        }
        return count > 0 ? (value, count) : nil
    }

    mutating func sign() -> Int? {
        if take("+") { return 1 }
        if take("-") { return -1 }
        return nil
    }
}

extension Int64 {
    func floorDiv(_ divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor < 0) ? quotient - 1 : quotient
    }

    func floorMod(_ divisor: Int64) -> Int64 {
        let remainder = self % divisor
        return remainder < 0 ? remainder + divisor : remainder
    }
}
