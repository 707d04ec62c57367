import Foundation
import Presentation
@testable import Recording
import SQLiteBackend
@testable import SessionFormats
import Testing
@testable import WirelogCLI

/// The pure pieces: time parsing and rendering, tables, search text, hex dumps, pcap bytes.
@Suite struct FormattingTests {
    @Test func isoTimesWithAZoneAreExact() throws {
        #expect(TimeArgument.parseISO("2026-11-24T18:03:15Z") == 1_795_543_395_000_000)
        #expect(TimeArgument.parseISO("2026-11-24T19:03:15+01:00") == 1_795_543_395_000_000)
        #expect(TimeArgument.parseISO("2026-11-24T17:33:15-0030") == 1_795_543_395_000_000)
        #expect(TimeArgument.parseISO("2026-11-24 18:03:15.25Z") == 1_795_543_395_250_000)
        #expect(TimeArgument.parseISO("2026-11-24T18:03:15.1234567Z") == 1_795_543_395_123_456)
        #expect(TimeArgument.parseISO("2026-11-24T18:03Z") == 1_795_543_380_000_000)
        for bad in ["2026-11-24T", "2026-13-01", "2026-11-24T25:00Z", "24/11/2026", "2026-11-24Zjunk", "2026-1-2", ""] {
            #expect(TimeArgument.parseISO(bad) == nil, "\(bad)")
        }
    }

    @Test func localTimesWithoutAZoneUseTheLocalZone() throws {
        let parsed = try #require(TimeArgument.parseISO("2026-06-01"))
        var components = DateComponents()
        (components.year, components.month, components.day) = (2026, 6, 1)
        let expected = Calendar.current.date(from: components)!.timeIntervalSince1970
        #expect(parsed == Int64(expected) * 1_000_000)
    }

    @Test func relativeTimesCountBackFromNow() throws {
        let now: Int64 = 10_000_000_000_000
        #expect(try TimeArgument.parse("15m", nowMicros: now) == now - 900_000_000)
        #expect(try TimeArgument.parse("2h", nowMicros: now) == now - 7_200_000_000)
        #expect(try TimeArgument.parse("3d", nowMicros: now) == now - 259_200_000_000)
        #expect(try TimeArgument.parse("now", nowMicros: now) == now)
        #expect(throws: InputError.self) { try TimeArgument.parse("yesterday", nowMicros: now) }
        #expect(throws: InputError.self) { try TimeArgument.parse("15", nowMicros: now) }
    }

    @Test func durationsAndOffsetsReadNaturally() {
        #expect(RelativeTime.offset(0) == "+0.000s")
        #expect(RelativeTime.offset(1_234_567) == "+1.234s")
        #expect(RelativeTime.offset(123_456_000) == "+2m03.456s")
        #expect(RelativeTime.offset(3_723_000_000) == "+1h02m03.000s")
        #expect(RelativeTime.offset(-5_000) == "-0.005s")
        #expect(RelativeTime.bytes(12) == "12 B")
        #expect(RelativeTime.bytes(1536) == "1.5 KiB")
        #expect(RelativeTime.bytes(3 << 20) == "3.0 MiB")
        #expect(RelativeTime.isoUTC(1_795_543_395_000_001) == "2026-11-24T18:03:15.000001Z")
        #expect(RelativeTime.isoUTC(-1) == "1969-12-31T23:59:59.999999Z")
    }

    @Test func tablesAlignTextLeftAndNumbersRight() {
        var table = TableFormatter([.right("id"), .left("name"), .right("count"), .left("note")])
        table.append(["1", "alpha", "12345", "x"])
        table.append(["100", "b", "7", ""])
        #expect(table.render() == """
             id  name   count  note
              1  alpha  12345  x
            100  b          7
            """)
    }

    @Test func searchTextTurnsShowsEscapesBackIntoBytes() throws {
        #expect(try SearchText.bytes("plain") == Array("plain".utf8))
        #expect(try SearchText.bytes("a\\nb\\r\\t\\\\") == [0x61, 0x0A, 0x62, 0x0D, 0x09, 0x5C])
        #expect(try SearchText.bytes("\\x1b[\\x00\\xFF") == [0x1B, 0x5B, 0x00, 0xFF])
        #expect(try SearchText.bytes("é") == [0xC3, 0xA9])
        for bad in ["", "\\", "\\x", "\\xg1", "\\q"] {
            #expect(throws: InputError.self, "\(bad)") { try SearchText.bytes(bad) }
        }
    }

    @Test func hexDumpShowsOffsetsBytesAndPrintableText() {
        let lines = HexDump.lines(Array(0..<20).map(UInt8.init) + Array("Hi".utf8))
        #expect(lines == [
            "0000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  ................",
            "0010  10 11 12 13 48 69                                 ....Hi",
        ])
    }

    @Test func latencyPercentilesAreNearestRank() throws {
        let latency = try #require(SessionStats.Latency((1...100).map(Int64.init).reversed()))
        #expect(latency == SessionStats.Latency(count: 100, p50: 50, p90: 90, p99: 99, max: 100))
        #expect(SessionStats.Latency([]) == nil)
        #expect(SessionStats.Latency([7]) == SessionStats.Latency(count: 1, p50: 7, p90: 7, p99: 7, max: 7))
    }
}

@Suite struct PcapWriterTests {
    private func uint32LE(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        bytes[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    @Test func theChecksumIsRFC1071() {
        // RFC 1071's worked example: the sum is 0xddf2, so the checksum is its complement.
        #expect(PcapWriter.internetChecksum([0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]) == ~UInt16(0xDDF2))
        // A header that carries its checksum sums to zero.
        let header: [UInt8] = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xB8, 0x61,
                               0xC0, 0xA8, 0x00, 0x01, 0xC0, 0xA8, 0x00, 0xC7]
        #expect(PcapWriter.internetChecksum(header) == 0)
    }

    @Test func aSessionBecomesHandshakeSegmentsAndFin() throws {
        var writer = PcapWriter()
        let (client, server) = PcapWriter.endpoints(clientHost: "10.0.0.1", clientPort: 5000, serverHost: "10.0.0.2", serverPort: 7070)
        #expect(client == .init(address: [10, 0, 0, 1], port: 5000))
        let big = [UInt8](repeating: 0x41, count: 3_000)
        writer.addSession(client: client, server: server, startedMicros: 1_000_000_500, endedMicros: 1_000_002_000, messages: [
            .init(atMicros: 1_000_001_000, fromClient: true, raw: big),
            .init(atMicros: 1_000_001_500, fromClient: false, raw: Array("300 DRCV\n".utf8)),
        ])
        let bytes = writer.take()
        #expect(Array(bytes[0..<4]) == [0xD4, 0xC3, 0xB2, 0xA1])
        #expect(uint32LE(bytes, 20) == 1)  // Ethernet
        // Walk the records: SYN, SYN-ACK, ACK, three segments of the 3000 bytes, the reply, FIN, FIN, ACK.
        var offset = 24
        var records: [(seconds: UInt32, micros: UInt32, frame: [UInt8])] = []
        while offset < bytes.count {
            let length = Int(uint32LE(bytes, offset + 8))
            records.append((uint32LE(bytes, offset), uint32LE(bytes, offset + 4), Array(bytes[offset + 16..<offset + 16 + length])))
            offset += 16 + length
        }
        #expect(offset == bytes.count)
        #expect(records.count == 10)
        #expect(records[0].seconds == 1_000 && records[0].micros == 500)
        #expect(records[3].seconds == 1_000 && records[3].micros == 1_000)
        let flags = records.map { $0.frame[14 + 20 + 13] }
        #expect(flags == [0x02, 0x12, 0x10, 0x18, 0x18, 0x18, 0x18, 0x11, 0x11, 0x10])
        let payloadSizes = records.map { $0.frame.count - 14 - 20 - 20 }
        #expect(payloadSizes == [0, 0, 0, 1460, 1460, 80, 9, 0, 0, 0])
        for record in records {
            let ip = Array(record.frame[14..<34])
            #expect(PcapWriter.internetChecksum(ip) == 0)
            let tcp = Array(record.frame[34...])
            let pseudo = Array(ip[12..<20]) + [0, 6, UInt8(tcp.count >> 8), UInt8(tcp.count & 0xFF)]
            #expect(PcapWriter.internetChecksum(pseudo + tcp) == 0)
        }
        // Sequence numbers: the client's advance by each segment, the reply acknowledges all 3000 bytes.
        func seq(_ frame: [UInt8]) -> UInt32 { frame[38..<42].reduce(0) { $0 << 8 | UInt32($1) } }
        func ack(_ frame: [UInt8]) -> UInt32 { frame[42..<46].reduce(0) { $0 << 8 | UInt32($1) } }
        #expect(seq(records[4].frame) == seq(records[3].frame) &+ 1460)
        #expect(ack(records[6].frame) == seq(records[3].frame) &+ 3000)
        #expect(seq(records[7].frame) == seq(records[3].frame) &+ 3000)
    }

    @Test func addressesOfMixedFamiliesAndNamesBecomeOneFamily() {
        let (v6client, v6server) = PcapWriter.endpoints(clientHost: "::1", clientPort: 1, serverHost: "127.0.0.1", serverPort: 2)
        #expect(v6client.address == [UInt8](repeating: 0, count: 15) + [1])
        #expect(v6server.address == [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF, 127, 0, 0, 1])
        let (named, _) = PcapWriter.endpoints(clientHost: "localhost", clientPort: 1, serverHost: "10.0.0.2", serverPort: 2)
        #expect(named.address == [192, 0, 2, 1])
    }
}
