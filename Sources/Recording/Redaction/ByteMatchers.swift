/// Hand-written matchers for presets that were regular expressions: each finds exactly the ranges
/// its regex's capture groups found over the message read as Latin-1 scalars (`ByteText`), quirks
/// included, without building a String or running a regex engine. `RedactionMatcherTests` holds
/// them to the regexes they replace, over generated messages with binary bytes and every kind of
/// line end.
enum ByteMatchers {
    static let data = Array("data".utf8)
    /// In the regex's order: `(?:Proxy-)?` tries the longer name first.
    private static let credentialHeaders = ["proxy-authorization:", "authorization:", "set-cookie:", "cookie:"].map { Array($0.utf8) }

    /// `(?im)^DATA(?:[ \t]([^\r\n]*)|[ \t]*\r?\n([^\r\n]+))`: the rest of a `DATA …` line, or the
    /// line after a bare `DATA`.
    static func labDataPayloads(in raw: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        matchAtLineStarts(in: raw) { start in
            guard hasWord(data, in: raw, at: start) else { return nil }
            let afterWord = start + data.count
            if afterWord < raw.count, isBlank(raw[afterWord]) {
                let end = lineContentEnd(in: raw, from: afterWord + 1)
                if end > afterWord + 1 { ranges.append(afterWord + 1..<end) }
                return end
            }
            // Not a blank next, so `[ \t]*` takes nothing: a line end must follow, then a non-empty line.
            let next: Int
            if afterWord + 1 < raw.count, raw[afterWord] == 0x0d, raw[afterWord + 1] == 0x0a {
                next = afterWord + 2
            } else if afterWord < raw.count, raw[afterWord] == 0x0a {
                next = afterWord + 1
            } else {
                return nil
            }
            let end = lineContentEnd(in: raw, from: next)
            guard end > next else { return nil }
            ranges.append(next..<end)
            return end
        }
        return ranges
    }

    /// `(?im)^(?:Proxy-)?Authorization:[ \t]*([^\r\n]+)|^(?:Set-)?Cookie:[ \t]*([^\r\n]+)`: the
    /// header's value after its blanks; a value of blanks only gives up its last blank to `+`.
    static func httpCredentialValues(in raw: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        matchAtLineStarts(in: raw) { start in
            guard let name = credentialHeaders.first(where: { hasWord($0, in: raw, at: start) })
            else { return nil }
            let colonEnd = start + name.count
            var valueStart = colonEnd
            while valueStart < raw.count, isBlank(raw[valueStart]) { valueStart += 1 }
            let end = lineContentEnd(in: raw, from: valueStart)
            if end > valueStart {
                ranges.append(valueStart..<end)
                return end
            }
            guard valueStart > colonEnd else { return nil }
            ranges.append(valueStart - 1..<valueStart)
            return valueStart
        }
        return ranges
    }

    /// Tries `matchAt` where a multiline `^` matches, as a regex search does: at the start and
    /// after every line terminator of Unicode (over Latin-1: LF, VT, FF, CR, NEL), going on from
    /// the end of each match. `matchAt` returns where its (non-empty) match ends, or nil.
    private static func matchAtLineStarts(in raw: UnsafeBufferPointer<UInt8>, _ matchAt: (Int) -> Int?) {
        var position = 0
        while position < raw.count {
            if position == 0 || isLineTerminator(raw[position - 1]), let end = matchAt(position) {
                position = end
            } else {
                position += 1
            }
        }
    }

    /// Whether `raw` holds `word` (lower case) at `offset`, letters in any case.
    static func hasWord(_ word: [UInt8], in raw: UnsafeBufferPointer<UInt8>, at offset: Int) -> Bool {
        guard offset + word.count <= raw.count else { return false }
        for index in word.indices {
            let byte = raw[offset + index]
            if byte != word[index] && byte != upper(word[index]) { return false }
        }
        return true
    }

    static func upper(_ byte: UInt8) -> UInt8 {
        byte >= 0x61 && byte <= 0x7a ? byte - 0x20 : byte
    }

    /// Where `[^\r\n]*` from `start` ends.
    private static func lineContentEnd(in raw: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var end = start
        while end < raw.count, raw[end] != 0x0a, raw[end] != 0x0d { end += 1 }
        return end
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09
    }

    private static func isLineTerminator(_ byte: UInt8) -> Bool {
        (0x0a...0x0d).contains(byte) || byte == 0x85
    }
}
