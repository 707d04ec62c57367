import LabProtocol
import Testing

/// Feeds `chunks` and returns each piece as (raw bytes, kind).
private func split(_ chunks: [[UInt8]], limit: Int = 64, flush: Bool = false) -> [([UInt8], LinePiece.Kind)] {
    var splitter = LineSplitter(maxLineLength: limit)
    var pieces: [([UInt8], LinePiece.Kind)] = []
    for chunk in chunks {
        chunk.withUnsafeBytes { bytes in
            splitter.feed(bytes) { pieces.append((Array($0.raw), $0.kind)) }
        }
    }
    if flush { splitter.flush { pieces.append((Array($0.raw), $0.kind)) } }
    return pieces
}

@Suite struct LineSplitterTests {
    @Test func splitsAtLFAndKeepsTerminators() {
        let pieces = split([Array("HELO\nDATA x\r\nQUIT\n".utf8)])
        #expect(pieces.map(\.0) == [Array("HELO\n".utf8), Array("DATA x\r\n".utf8), Array("QUIT\n".utf8)])
        #expect(pieces.allSatisfy { $0.1 == .terminated })
    }

    @Test func contentDropsLFAndCRLFButNotALoneCR() {
        var splitter = LineSplitter(maxLineLength: 64)
        var contents: [[UInt8]] = []
        Array("a\r\nb\n\r\nc\r\r\n".utf8).withUnsafeBytes { bytes in
            splitter.feed(bytes) { contents.append(Array($0.content)) }
        }
        #expect(contents == [Array("a".utf8), Array("b".utf8), [], Array("c\r".utf8)])
    }

    @Test func oneByteAtATimeGivesTheSameLines() {
        let stream = Array("HELO there\nDATA\npayload line\r\nQUIT\n".utf8)
        let whole = split([stream])
        let bytewise = split(stream.map { [$0] })
        #expect(whole.map(\.0) == bytewise.map(\.0))
        #expect(whole.count == 4)
    }

    @Test func holdsAPartialLineUntilFlushed() {
        #expect(split([Array("HELO".utf8)]).isEmpty)
        let flushed = split([Array("HELO".utf8)], flush: true)
        #expect(flushed.map(\.0) == [Array("HELO".utf8)])
        #expect(flushed.first?.1 == .unterminated)
    }

    @Test func cutsAnEndlessLineAtTheLimit() {
        let pieces = split([[UInt8](repeating: 0x41, count: 25), [UInt8](repeating: 0x41, count: 10) + [0x0A]], limit: 10)
        #expect(pieces.map(\.1) == [.overlong, .overlong, .overlong, .terminated])
        #expect(pieces.map(\.0.count) == [10, 10, 10, 6])
        #expect(pieces.flatMap(\.0).count == 36)
    }

    @Test func aLineOfExactlyTheLimitIsNotOverlong() {
        let pieces = split([[UInt8](repeating: 0x41, count: 10) + [0x0A]], limit: 10)
        #expect(pieces.map(\.1) == [.terminated])
    }
}
