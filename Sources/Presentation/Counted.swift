/// `1 message`, `2 messages`, `0 matches`: a count with its noun in the right number.
/// `plural` is needed only where adding `s` (or `es` after s, x, ch, sh) is wrong.
public func counted(_ count: some BinaryInteger, _ singular: String, plural: String? = nil) -> String {
    if count == 1 { return "1 \(singular)" }
    if let plural { return "\(count) \(plural)" }
    let sibilant = ["s", "x", "ch", "sh"].contains { singular.hasSuffix($0) }
    return "\(count) \(singular)\(sibilant ? "es" : "s")"
}

/// `1,234,567`: digits in groups of three, as people read counts.
public func grouped(_ value: some BinaryInteger) -> String {
    var digits = Array(String(value.magnitude))
    var index = digits.count - 3
    while index > 0 {
        digits.insert(",", at: index)
        index -= 3
    }
    return (value < 0 ? "-" : "") + String(digits)
}
