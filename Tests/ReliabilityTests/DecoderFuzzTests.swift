import Bench
import Foundation
import LabProtocol
import Testing

/// Promise 7 of docs/RELIABILITY.md: the lab decoder and the line splitter (shared by `serve`
/// and the proxy) fed random bytes split at random points never crash, never lose or invent a
/// byte, and decode(encode(x)) gives x back. Runs for WIRELOG_FUZZ_SECONDS (default 20).
@Suite struct DecoderFuzzTests {
    static let seconds = Double(ProcessInfo.processInfo.environment["WIRELOG_FUZZ_SECONDS"] ?? "") ?? 20

    /// A generated command and what decoding it must give.
    struct Generated: Equatable {
        var verb: LabVerb
        var payload: [UInt8]?
    }

    /// Decodes `stream` delivered in `chunks`; returns the commands and every raw byte seen.
    static func decode(_ stream: [UInt8], cuts: [Int], limit: Int) -> (commands: [Generated], raw: [UInt8], overlong: Int) {
        var splitter = LineSplitter(maxLineLength: limit)
        var parser = LabCommandParser()
        var commands: [Generated] = []
        var raw: [UInt8] = []
        var pendingRaw: [UInt8] = []
        var overlong = 0
        let take: (LinePiece) -> Void = { piece in
            precondition(piece.raw.count <= limit + 1, "a piece longer than the limit")
            if piece.kind == .overlong {
                // As `serve` does: a bare DATA waiting for its payload is part of the overlong command.
                let dataLine = parser.takeAwaitingDataLine()
                precondition(dataLine == pendingRaw, "the held DATA line differs from its bytes")
                overlong += 1
                raw += pendingRaw + piece.raw
                pendingRaw = []
                return
            }
            pendingRaw += piece.raw
            parser.parse(piece) { step in
                guard case .command(let command, let bytes) = step else { return }
                // A command's raw bytes are exactly the lines that made it.
                precondition(Array(bytes) == pendingRaw, "command bytes differ from its lines")
                raw += pendingRaw
                pendingRaw = []
                commands.append(Generated(verb: command.verb, payload: command.payloadRange.map { Array(bytes[$0]) }))
            }
        }
        var start = 0
        for cut in cuts + [stream.count] where cut >= start {
            stream[start..<cut].withUnsafeBytes { splitter.feed($0, take) }
            start = cut
        }
        splitter.flush(take)
        _ = parser.finish { _, bytes in raw += bytes; pendingRaw = [] }
        raw += pendingRaw
        return (commands, raw, overlong)
    }

    static func randomCuts(_ count: Int, using rng: inout SplitMix64) -> [Int] {
        guard count > 0 else { return [] }
        let pieces = Int.random(in: 0...min(count, 40), using: &rng)
        return (0..<pieces).map { _ in Int.random(in: 0...count, using: &rng) }.sorted()
    }

    @Test func randomBytesAtRandomSplitsNeverCrashAndLoseNothing() {
        var rng = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
        let seed = rng.state
        let deadline = Date().addingTimeInterval(Self.seconds / 2)
        var inputs = 0
        while Date() < deadline {
            let length = Int.random(in: 0...2_000, using: &rng)
            // Bias towards the bytes that matter: LF, CR, space and letters of the verbs.
            let alphabet: [UInt8] = Array("\n\r DATAHELOQUITdatahelo".utf8)
            let stream = (0..<length).map { _ in
                Bool.random(using: &rng) ? alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            }
            let limit = Int.random(in: 1...300, using: &rng)
            let decoded = Self.decode(stream, cuts: Self.randomCuts(length, using: &rng), limit: limit)
            #expect(decoded.raw == stream, "lost or invented bytes (seed \(seed), input \(inputs))")
            inputs += 1
        }
        print("fuzz random bytes: \(inputs) inputs tried, seed \(seed)")
    }

    @Test func encodedCommandsDecodeBackExactly() {
        var rng = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
        let seed = rng.state
        let deadline = Date().addingTimeInterval(Self.seconds / 2)
        var inputs = 0
        while Date() < deadline {
            var stream: [UInt8] = []
            var expected: [Generated] = []
            for _ in 0..<Int.random(in: 1...30, using: &rng) {
                let ending: [UInt8] = Bool.random(using: &rng) ? [0x0A] : [0x0D, 0x0A]
                // Payload bytes: anything but LF, and no CR at the end (it would join the CRLF).
                var payload = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    .filter { $0 != 0x0A }
                while payload.last == 0x0D { payload.removeLast() }
                switch Int.random(in: 0..<5, using: &rng) {
                case 0:
                    stream += Array("HELO".utf8) + (payload.isEmpty ? [] : [0x20] + payload) + ending
                    expected.append(Generated(verb: .helo, payload: nil))
                case 1:
                    stream += Array("DATA ".utf8) + payload + ending
                    expected.append(Generated(verb: .data, payload: payload))
                case 2:
                    stream += Array("data".utf8) + ending + payload + ending
                    expected.append(Generated(verb: .data, payload: payload))
                case 3:
                    stream += Array("QUIT".utf8) + ending
                    expected.append(Generated(verb: .quit, payload: nil))
                default:
                    stream += Array("X".utf8) + payload.filter { $0 != 0x20 } + ending
                    expected.append(Generated(verb: .unknown, payload: nil))
                }
            }
            let decoded = Self.decode(stream, cuts: Self.randomCuts(stream.count, using: &rng), limit: 1_000)
            #expect(decoded.commands == expected, "seed \(seed), input \(inputs)")
            #expect(decoded.raw == stream)
            inputs += 1
        }
        print("fuzz round trip: \(inputs) command streams tried, seed \(seed)")
    }

    @Test func repliesSplitAnywhereFrameBackExactly() {
        var rng = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
        let replies: [LabReply] = [.ok, .dataReceived, .bye, .badCommand, .lineTooLong(limit: 10), .notRecorded, .busy(limit: 3)]
        var inputs = 0
        for _ in 0..<2_000 {
            let ending: LineEnding? = [nil, .lf, .crlf].randomElement(using: &rng)!
            let chosen = (0..<Int.random(in: 1...20, using: &rng)).map { _ in replies.randomElement(using: &rng)! }
            let encoded = chosen.map { $0.encoded(lineEnding: ending) }
            let stream = encoded.flatMap { $0 }
            var framer = ReplyFramer()
            var framed: [[UInt8]] = []
            var start = 0
            for cut in Self.randomCuts(stream.count, using: &rng) + [stream.count] where cut >= start {
                framer.append(stream[start..<cut])
                while let reply = framer.next() { framed.append(reply) }
                start = cut
            }
            #expect(framed == encoded)
            inputs += 1
        }
        print("fuzz reply framing: \(inputs) reply streams tried")
    }

    @Test func regressionInputs() {
        // Inputs that once mattered: CR and LF at chunk edges, a bare DATA at the very end,
        // a line exactly at the limit followed by CRLF split between chunks.
        let cases: [(stream: String, cuts: [Int], limit: Int)] = [
            ("HELO\r", [5], 64),
            ("DATA\r\n\r\n", [5, 6], 64),
            ("DATA", [], 64),
            ("AAAA\r\n", [4, 5], 4),
            ("\n\n\n", [1, 2], 1),
            // A bare DATA whose payload line is over the limit, then an unterminated tail.
            ("DATA\nAAAAAAAAAAAAAAAAAAAAAAAA\nBB", [], 16),
        ]
        for entry in cases {
            let stream = Array(entry.stream.utf8)
            #expect(Self.decode(stream, cuts: entry.cuts, limit: entry.limit).raw == stream, "\(entry.stream.debugDescription)")
        }
    }
}
