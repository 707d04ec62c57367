/// Finds which of a set of keywords a message holds, letters in any case, in one pass over its
/// bytes however many keywords there are: the redactor's cheap test of all the rules of a side
/// before any of them runs.
///
/// 64 positions a step (four 16-byte vectors), it compares each byte and the one after it with
/// the first two bytes of every keyword, all folded by setting bit 0x20 (which maps `A` to `a`
/// and only ever lets more bytes through); only a step where some position passes is looked at
/// byte by byte. In random bytes a keyword's first two bytes (either case) start one position in
/// 16,384, so a bulk stream is read at vector speed; a message shorter than a step is looked at
/// byte by byte, once for all keywords.
struct KeywordScan: Sendable {
    /// Distinct lower-case ASCII keywords, each at least 2 bytes (a rule's literal has 3 or more).
    let keywords: [[UInt8]]
    /// Indices into `keywords`, grouped by the byte they start with (each keyword under both cases
    /// of its first letter): those starting with byte `b` are `byFirstByte[groupStart[b]..<groupStart[b + 1]]`.
    private let byFirstByte: [Int]
    private let groupStart: [Int]
    /// The distinct folded first two bytes of the keywords, each spread over a vector's lanes.
    private let leadingPairs: [LeadingPair]

    private typealias Chunk = SIMD16<UInt8>

    /// A keyword's first two bytes, folded, in every lane.
    private struct LeadingPair {
        let first: Chunk
        let second: Chunk

        /// 0xff in the lanes where `chunk.here` and `chunk.next` hold the pair, else 0.
        @inline(__always)
        func starts(_ chunk: (here: Chunk, next: Chunk)) -> Chunk {
            // `replacing` turns each comparison's mask into bytes without reducing it.
            let zero = Chunk(repeating: 0)
            return zero.replacing(with: 0xff, where: chunk.here .== first) & zero.replacing(with: 0xff, where: chunk.next .== second)
        }
    }

    init(keywords: some Sequence<[UInt8]>) {
        var distinct: [[UInt8]] = []
        for keyword in keywords where !distinct.contains(keyword) {
            precondition(keyword.count >= 2 && keyword.allSatisfy { $0 < 0x80 && !(0x41...0x5a).contains($0) },
                         "a keyword is lower-case ASCII of at least 2 bytes")
            distinct.append(keyword)
        }
        self.keywords = distinct
        var byFirstByte: [Int] = []
        var groupStart: [Int] = []
        for byte in UInt8.min...UInt8.max {
            groupStart.append(byFirstByte.count)
            byFirstByte += distinct.indices.filter { distinct[$0][0] == byte || ByteMatchers.upper(distinct[$0][0]) == byte }
        }
        groupStart.append(byFirstByte.count)
        self.byFirstByte = byFirstByte
        self.groupStart = groupStart
        var pairs: [(UInt8, UInt8)] = []
        for keyword in distinct where !pairs.contains(where: { $0 == (keyword[0] | 0x20, keyword[1] | 0x20) }) {
            pairs.append((keyword[0] | 0x20, keyword[1] | 0x20))
        }
        leadingPairs = pairs.map { LeadingPair(first: Chunk(repeating: $0.0), second: Chunk(repeating: $0.1)) }
    }

    /// Calls `body` with, for each keyword, whether `bytes` holds it.
    func withFound<Result>(in bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<Bool>) -> Result) -> Result {
        withUnsafeTemporaryAllocation(of: Bool.self, capacity: keywords.count) { found in
            found.initialize(repeating: false)
            scan(bytes, marking: found, stopAfter: keywords.count)
            return body(UnsafeBufferPointer(found))
        }
    }

    /// Whether `bytes` holds any of the keywords.
    func containsAny(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        withUnsafeTemporaryAllocation(of: Bool.self, capacity: keywords.count) { found in
            found.initialize(repeating: false)
            return scan(bytes, marking: found, stopAfter: 1) > 0
        }
    }

    /// Marks the keywords found in `bytes`, stopping once `stopAfter` are; returns how many are.
    @discardableResult
    private func scan(_ bytes: UnsafeBufferPointer<UInt8>, marking found: UnsafeMutableBufferPointer<Bool>, stopAfter: Int) -> Int {
        guard !keywords.isEmpty, let base = bytes.baseAddress else { return 0 }
        var foundCount = 0
        /// Checks the keywords starting with the byte at each position of `positions`.
        func check(_ positions: Range<Int>) -> Bool {
            for position in positions {
                let byte = Int(bytes[position])
                // Slots, not a slice of `byFirstByte`: a slice retains the array.
                for slot in groupStart[byte]..<groupStart[byte + 1] {
                    let index = byFirstByte[slot]
                    if !found[index], ByteMatchers.hasWord(keywords[index], in: bytes, at: position) {
                        found[index] = true
                        foundCount += 1
                        if foundCount >= stopAfter { return true }
                    }
                }
            }
            return false
        }
        let raw = UnsafeRawPointer(base)
        // Local, not static: a static constant is read through a once-check on every use.
        let fold = Chunk(repeating: 0x20)
        /// Each position's byte and the next, folded.
        @inline(__always) func leading(_ offset: Int) -> (here: Chunk, next: Chunk) {
            (raw.loadUnaligned(fromByteOffset: offset, as: Chunk.self) | fold,
             raw.loadUnaligned(fromByteOffset: offset + 1, as: Chunk.self) | fold)
        }
        var offset = 0
        // Four vectors a step, so that each pair is fetched once for 64 positions. A step also
        // reads the byte after it: the last 64 positions (or fewer) are left to `check`.
        let step = 4 * Chunk.scalarCount
        while offset + step < bytes.count {
            let first = leading(offset), second = leading(offset + 16), third = leading(offset + 32), fourth = leading(offset + 48)
            var hits = Chunk(repeating: 0)
            for pair in leadingPairs {
                hits |= pair.starts(first) | pair.starts(second) | pair.starts(third) | pair.starts(fourth)
            }
            let lanes = unsafeBitCast(hits, to: SIMD2<UInt64>.self)
            if lanes.x | lanes.y != 0, check(offset..<offset + step) { return foundCount }
            offset += step
        }
        _ = check(offset..<bytes.count)
        return foundCount
    }
}
