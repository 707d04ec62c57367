import Foundation

/// A point in time given on the command line: ISO 8601 (`2026-11-24`, `2026-11-24T18:00`,
/// `2026-11-24 18:00:05.250Z`, `…+01:00`; local time without a zone) or a time ago (`15m`, `2h`, `3d`).
public enum TimeArgument {
    public static func parse(_ text: String, nowMicros: Int64) throws(InputError) -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased() == "now" { return nowMicros }
        if let last = trimmed.last, last.isLetter, last != "Z", trimmed.first?.isNumber == true,
           let ago = TimeSpan(argument: trimmed) {
            return nowMicros - ago.microseconds
        }
        if let micros = parseISO(trimmed) { return micros }
        throw InputError(
            "cannot read '\(text)' as a time: use ISO 8601 (2026-11-24, 2026-11-24T18:00:00, …Z or …+01:00) or a time ago (15m, 2h, 3d)")
    }

    /// Strict ISO 8601 date or date-time; nil when `text` is not one.
    public static func parseISO(_ text: String) -> Int64? {
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
