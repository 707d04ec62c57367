import NIOCore
import NIOPosix
import Presentation
import Testing

@Suite struct PresentationTests {
    @Test func durationsHaveOneUnitStyleAndThreeSignificantDigits() {
        #expect(DurationText.micros(0) == "0µs")
        #expect(DurationText.micros(711) == "711µs")
        #expect(DurationText.micros(999) == "999µs")
        #expect(DurationText.micros(1_000) == "1.00ms")
        #expect(DurationText.micros(1_234) == "1.23ms")
        #expect(DurationText.micros(9_995) == "10.0ms")
        #expect(DurationText.micros(45_640) == "45.6ms")
        #expect(DurationText.micros(123_400) == "123ms")
        #expect(DurationText.micros(999_499) == "999ms")
        #expect(DurationText.micros(999_500) == "1.00s")
        #expect(DurationText.micros(1_500_000) == "1.50s")
        #expect(DurationText.micros(12_340_000) == "12.3s")
        #expect(DurationText.micros(123_000_000) == "2m03s")
        #expect(DurationText.micros(3_720_000_000) == "1h02m")
        #expect(DurationText.micros(273_600_000_000) == "3d04h")
        #expect(DurationText.micros(-5) == "0µs")
        #expect(DurationText.fractionalMicros(710.6) == "711µs")
        #expect(DurationText.seconds(0.25) == "250ms")
    }

    @Test func countsTakeTheRightNumber() {
        #expect(counted(1, "message") == "1 message")
        #expect(counted(0, "message") == "0 messages")
        #expect(counted(2, "match") == "2 matches")
        #expect(counted(1, "open connection") == "1 open connection")
        #expect(counted(3, "mismatch") == "3 mismatches")
        #expect(counted(Int64(5), "bus") == "5 buses")
        #expect(counted(2, "reply", plural: "replies") == "2 replies")
    }

    @Test func networkFailuresReadAsPlainWords() async throws {
        // A closed loopback port: bind one, note it, close it.
        let group = MultiThreadedEventLoopGroup.singleton
        let listener = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = listener.localAddress!.port!
        let error = await #expect(throws: (any Error).self) {
            _ = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: port).get()
        }
        #expect(NetworkErrorText.reason(try #require(error)) == "address already in use")
        try await listener.close()
        let refused = await #expect(throws: (any Error).self) {
            _ = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
        }
        #expect(NetworkErrorText.reason(try #require(refused)) == "connection refused")
        #expect(NetworkErrorText.reason(ChannelError.connectTimeout(.seconds(5))) == "no answer within 5.00s")
        #expect(NetworkErrorText.reason(ChannelError.ioOnClosedChannel) == "the connection is closed")
    }
}
