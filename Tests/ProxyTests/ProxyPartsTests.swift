import Backends
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Recording
import Testing
import TestSupport
@testable import Proxy

/// The proxy's parts on their own: the ending decisions as values, and the recording tap on an
/// `EmbeddedEventLoop` whose clock the test moves (`advanceTime`), recording into a real store.
@Suite struct ProxyPartsTests {
    @Test func anAbortWinsOverAHalfCloseWhichWinsOverTheFirstClose() {
        var ending = ProxyEnding()
        #expect(ending.closed(.upstream) == .drain)
        #expect(ending.reason == .serverClosed)
        ending.inputClosed(.client)
        #expect(ending.reason == .clientClosed)
        ending.abort(.reset)
        ending.abort(.shutdown)  // the first abort is the one recorded
        #expect(ending.reason == .reset)
        #expect(ending.closed(.client) == .reset)
    }

    @Test(arguments: [EndReason.shutdown, .storageError, .tlsHandshakeFailed, .upstreamTLSFailed])
    func abortsThatMakeDeliveryPointlessCloseThePartnerAtOnce(_ reason: EndReason) {
        var ending = ProxyEnding()
        ending.abort(reason)
        #expect(ending.closed(.client) == .now)
        #expect(ending.reason == reason)
    }

    @Test func errorsAndConnectFailuresAreNamed() {
        #expect(ProxyEnding.reason(for: IOError(errnoCode: ECONNRESET, reason: "read")) == .reset)
        #expect(ProxyEnding.reason(for: IOError(errnoCode: EPIPE, reason: "write")) == .reset)
        #expect(ProxyEnding.reason(for: ChannelError.ioOnClosedChannel) == .error)
        #expect(ProxyEnding.reason(forConnectFailure: ChannelError.connectTimeout(.seconds(5))) == .upstreamTimeout)
        #expect(ProxyEnding.reason(forConnectFailure: IOError(errnoCode: ECONNREFUSED, reason: "connect")) == .upstreamRefused)
    }

    @Test func earlyBytesAreHandedOverOnceInOrder() {
        var early = EarlyBytes()
        early.append(ByteBuffer(string: "HELO\n"))
        early.append(ByteBuffer(string: "DATA x\n"))
        #expect(early.byteCount == 12)
        #expect(early.takeAll().map { String(buffer: $0) } == ["HELO\n", "DATA x\n"])
        #expect(early.byteCount == 0 && early.takeAll().isEmpty)
    }

    /// A tap recording `decoding` into a fresh SQLite file, on an embedded loop.
    private struct TapFixture {
        let loop = EmbeddedEventLoop()
        let directory = TemporaryDirectory()
        let store: StoreLocation
        let sink: any RecordingSink
        let tap: ProxyRecordingTap
        /// Made once the tap knows the protocol: at once unless it is auto.
        var tape: SessionTape { tap.tape! }

        init(_ decoding: Decoding) async throws {
            store = .sqlite(path: directory.file("tap.sqlite"))
            var quiet = Logger(label: "test")
            quiet.logLevel = .critical
            sink = try await store.openRecorder(RecorderSettings(), logger: quiet)
            var configuration = ProxyConfiguration(upstreamHost: "127.0.0.1", upstreamPort: 1)
            configuration.decoding = decoding
            configuration.quietPeriod = .milliseconds(200)
            tap = ProxyRecordingTap(sink: sink, info: .proxied(from: nil, configuration), configuration: configuration,
                                    eventLoop: loop) { _ in }
        }

        func stored() async throws -> [String] {
            await sink.shutdown()
            return try await RecordedRows.messages(store).map { "\($0.sender): \(String(decoding: $0.raw, as: UTF8.self))" }
        }
    }

    @Test func anUnterminatedLineIsAMessageAfterTheQuietPeriodAndNotBefore() async throws {
        let fixture = try await TapFixture(.lines)
        fixture.tap.record(ByteBuffer(string: "HEL"), from: .client)
        fixture.loop.advanceTime(by: .milliseconds(150))
        fixture.tap.record(ByteBuffer(string: "LO"), from: .client)
        // The quiet period counts from the last byte: 150 + 199 ms is still inside it.
        fixture.loop.advanceTime(by: .milliseconds(199))
        #expect(fixture.tape.messageCount == 0)
        fixture.loop.advanceTime(by: .milliseconds(2))
        #expect(fixture.tape.messageCount == 1)
        fixture.tap.end(.clientClosed)
        #expect(try await fixture.stored() == ["client: HELLO"])
    }

    @Test func theOtherSideSpeakingCompletesAnUnterminatedLine() async throws {
        let fixture = try await TapFixture(.lines)
        fixture.tap.record(ByteBuffer(string: "PING"), from: .client)
        fixture.tap.record(ByteBuffer(string: "PONG\n"), from: .upstream)
        fixture.tap.record(ByteBuffer(string: "QU"), from: .client)
        fixture.tap.end(.clientClosed)  // what is pending is a message at the end
        #expect(try await fixture.stored() == ["client: PING", "server: PONG\n", "client: QU"])
    }

    @Test func rawRecordsEachReadBurstAsOneMessageAndNothingAfterTheEnd() async throws {
        let fixture = try await TapFixture(.raw)
        fixture.tap.countWireBytes(7, from: .client)
        fixture.tap.record(ByteBuffer(string: "abc"), from: .client)
        fixture.tap.endBurst(.client)
        fixture.tap.record(ByteBuffer(string: "de"), from: .client)
        fixture.tap.record(ByteBuffer(string: "fg"), from: .client)
        #expect(fixture.tape.messageCount == 1)  // the burst is still open
        fixture.tap.endBurst(.client)
        fixture.tap.end(.reset)
        fixture.tap.record(ByteBuffer(string: "late"), from: .upstream)
        #expect(try await fixture.stored() == ["client: abc", "client: defg"])
        #expect(try await RecordedRows.sessions(fixture.store).map(\.endReason) == ["reset"])
    }

    @Test func aRawBurstEndsWhenTheOtherSideSpeaksAtItsCapAndAtTheEnd() async throws {
        let fixture = try await TapFixture(.raw)
        fixture.tap.record(ByteBuffer(string: "GET /"), from: .client)
        fixture.tap.record(ByteBuffer(string: "200 OK"), from: .upstream)  // within one burst of reads of the other side
        let big = ByteBuffer(repeating: UInt8(ascii: "x"), count: ProxyRecordingTap.maxBurstBytes)
        fixture.tap.record(big, from: .upstream)
        #expect(fixture.tape.messageCount == 2)  // "GET /", then "200 OK" and the big read, cut at the cap
        fixture.tap.record(ByteBuffer(string: "tail"), from: .upstream)
        fixture.tap.end(.serverClosed)
        let stored = try await fixture.stored()
        #expect(stored.map { $0.prefix(14) } == ["client: GET /", "server: 200 OK", "server: tail"])
        #expect(stored[1].count == "server: 200 OK".count + ProxyRecordingTap.maxBurstBytes)
    }

    // MARK: --decode auto

    @Test func autoChoosesTheProtocolFromTheClientsFirstBytesAndPairsItsExchanges() async throws {
        let fixture = try await TapFixture(.auto)
        fixture.tap.record(ByteBuffer(string: "GE"), from: .client)
        #expect(fixture.tap.tape == nil, "two bytes could still be any method")
        fixture.tap.record(ByteBuffer(string: "T /a HTTP/1.1\r\nHost: x\r\n\r\n"), from: .client)
        fixture.tap.record(ByteBuffer(string: "HTTP/1.1 204 No Content\r\n\r\n"), from: .upstream)
        fixture.tap.end(.clientClosed)
        #expect(try await fixture.stored() == ["client: GET /a HTTP/1.1\r\nHost: x\r\n\r\n", "server: HTTP/1.1 204 No Content\r\n\r\n"])
        #expect(try await RecordedRows.sessions(fixture.store).map(\.decoding) == ["http"])
        let messages = try await fixture.store.withStore(.read) { try await $0.messages(ofSession: 1) }
        #expect(messages.map(\.verb) == ["GET", nil])
        #expect(messages[1].exchange?.requestSeq == 1)
    }

    @Test func autoDecidesWithWhatCameOnceTheClientGoesQuiet() async throws {
        let fixture = try await TapFixture(.auto)
        fixture.tap.record(ByteBuffer(string: "GE"), from: .client)
        fixture.loop.advanceTime(by: .milliseconds(199))
        #expect(fixture.tap.tape == nil)
        fixture.loop.advanceTime(by: .milliseconds(2))
        #expect(fixture.tap.tape?.messageCount == 1, "raw: the held read is recorded as it came")
        fixture.tap.end(.clientClosed)
        #expect(try await fixture.stored() == ["client: GE"])
        #expect(try await RecordedRows.sessions(fixture.store).map(\.decoding) == ["raw"])
    }

    @Test func autoKnowsSMTPByItsGreetingAndRecordsOtherServersThatSpeakFirstOrNothingRaw() async throws {
        for (greetingText, decoding) in [("220 smtp ready\r\n", "smtp"), ("220 ProFTPD ready\r\n", "raw")] {
            let greeting = try await TapFixture(.auto)
            greeting.tap.record(ByteBuffer(string: greetingText), from: .upstream)
            greeting.tap.endBurst(.upstream)
            greeting.tap.record(ByteBuffer(string: "EHLO me\r\n"), from: .client)
            greeting.tap.end(.clientClosed)
            #expect(try await greeting.stored() == ["server: \(greetingText)", "client: EHLO me\r\n"])
            #expect(try await RecordedRows.sessions(greeting.store).map(\.decoding) == [decoding])
        }

        let silent = try await TapFixture(.auto)
        silent.tap.countWireBytes(0, from: .client)
        silent.tap.end(.clientClosed)
        #expect(try await silent.stored() == [])
        #expect(try await RecordedRows.sessions(silent.store).map(\.decoding) == ["raw"])
    }
}
