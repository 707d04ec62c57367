import NIOCore
import Protocols
import Recording
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// HTTP/1.1 cut into messages: framing, pieces, upgrades, exchange pairing and bad input.
@Suite struct HTTP1Tests {
    let harness = DecoderHarness(proto: HTTP1Protocol.self)

    static let get = "GET /a?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
    static let post = "POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
    static let chunkedHead = "POST /c HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
    static let chunked = chunkedHead
        + "5;name=value\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
    static let head = "\r\nHEAD /d HTTP/1.1\r\nhost: example.com\r\n\r\n"
    static let expectHead = "PUT /e HTTP/1.1\r\nHost: example.com\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
    static let requests = get + post + chunked + head + expectHead + "abc"

    static let ok = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
    static let okChunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    static let noContent = "HTTP/1.1 204 No Content\r\n\r\n"
    static let notModified = "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"
    static let continue100 = "HTTP/1.1 100 Continue\r\n\r\n"
    static let created = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
    static let closeDelimited = "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>until the end</html>"
    static let responses = ok + okChunked + noContent + notModified + continue100 + created + closeDelimited

    @Test func keepAliveRequestsAreCutOnePerMessageWhateverTheReads() {
        let cuts = harness.expectResplitInvariant(Array(Self.requests), .client)
        #expect(cuts.map(\.text) == [Self.get, Self.post, Self.chunked, Self.head, Self.expectHead, "abc"])
        #expect(cuts.map(\.verb) == ["GET", "POST", "POST", "HEAD", "PUT", nil])
        #expect(cuts.allSatisfy { $0.error == nil })
        #expect(cuts[0].fields == [
            MessageField("method", .text("GET")), MessageField("target", .text("/a?q=1")), MessageField("version", .text("HTTP/1.1")),
            MessageField("host", .text("example.com")), MessageField("body_offset", .integer(Int64(Self.get.utf8.count))),
            MessageField("body_length", .integer(0)),
        ])
        #expect(cuts[1].fields.map(\.name) == ["method", "target", "version", "host", "content_type", "content_length", "body_offset", "body_length"])
        #expect(cuts[1].fields[field: "content_length"] == .integer(5))
        #expect(cuts[1].fields[field: "body_length"] == .integer(5))
        #expect(cuts[2].fields[field: "transfer_encoding"] == .text("chunked"))
        #expect(cuts[2].fields[field: "body_length"] == .integer(Int64(Self.chunked.utf8.count - Self.chunkedHead.utf8.count)))
        #expect(cuts[2].fields[field: "body_offset"] == .integer(Int64(Self.chunkedHead.utf8.count)))
        #expect(cuts[3].fields[field: "body_offset"] == .integer(Int64(Self.head.utf8.count)))
        #expect(cuts[3].fields[field: "host"] == .text("example.com"))
        #expect(cuts[4].fields[field: "body_length"] == .integer(0))
        #expect(cuts[5].fields == [MessageField("continuation", .bool(true))])
        #expect(cuts.map(\.exchange) == [
            .request(method: "GET", target: "/a?q=1"), .request(method: "POST", target: "/b"), .request(method: "POST", target: "/c"),
            .request(method: "HEAD", target: "/d"), .request(method: "PUT", target: "/e"), nil,
        ])
    }

    @Test func responsesAreFramedByLengthChunkingStatusAndClose() {
        let cuts = harness.expectResplitInvariant(Array(Self.responses), .server)
        #expect(cuts.map(\.text) == [Self.ok, Self.okChunked, Self.noContent, Self.notModified, Self.continue100, Self.created, Self.closeDelimited])
        #expect(cuts.map(\.code) == [200, 200, 204, 304, 100, 201, 200])
        #expect(cuts.allSatisfy { $0.error == nil })
        #expect(cuts[0].fields == [
            MessageField("version", .text("HTTP/1.1")), MessageField("status", .integer(200)), MessageField("reason", .text("OK")),
            MessageField("content_type", .text("text/plain")), MessageField("content_length", .integer(2)),
            MessageField("body_offset", .integer(Int64(Self.ok.utf8.count - 2))), MessageField("body_length", .integer(2)),
        ])
        #expect(cuts[1].fields[field: "transfer_encoding"] == .text("gzip, chunked"))
        #expect(cuts[3].fields[field: "body_length"] == .integer(0))
        #expect(cuts[6].fields[field: "body_length"] == .integer(26))
        #expect(cuts.map(\.exchange) == [
            .response(status: 200, outcome: "OK", error: nil), .response(status: 200, outcome: "OK", error: nil),
            .response(status: 204, outcome: "No Content", error: nil), .response(status: 304, outcome: "Not Modified", error: nil),
            .interim, .response(status: 201, outcome: "Created", error: nil), .response(status: 200, outcome: "OK", error: nil),
        ])
    }

    @Test func aCloseDelimitedBodyWaitsForTheEndNotForAQuietPeriod() {
        let cuts = harness.decode([Array("HTTP/1.1 200 OK\r\n\r\nsome"), Array(" more")], .server, flushAfterEachChunk: true)
        #expect(cuts.map(\.text) == ["HTTP/1.1 200 OK\r\n\r\nsome more"])
    }

    @Test func exchangesPairUpAcrossHEADPipeliningAndContinue() {
        let turns: [(Sender, [UInt8])] = [
            (.client, Array(Self.get + Self.head)),  // pipelined: two requests in one read
            (.server, Array(Self.ok + "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")),  // the HEAD response has no body
            (.client, Array(Self.expectHead)),
            (.server, Array(Self.continue100)),
            (.client, Array("abc")),
            (.server, Array(Self.created)),
            (.client, Array(Self.get)),
            (.server, Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz")),
        ]
        let cuts = harness.conversation(turns)
        #expect(cuts.map { "\($0.0):\($0.1.text)" } == [
            "client:" + Self.get, "client:" + Self.head,
            "server:" + Self.ok, "server:HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
            "client:" + Self.expectHead, "server:" + Self.continue100, "client:abc",
            "server:" + Self.created, "client:" + Self.get, "server:HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz",
        ])
        #expect(cuts.allSatisfy { $0.1.error == nil })
        // Every request is answered by one final response, in order.
        var open: [String] = []
        var paired: [String] = []
        for (_, cut) in cuts {
            switch cut.exchange {
            case .request(let method, _)?: open.append(method ?? "?")
            case .response(let status, _, _)?:
                guard !open.isEmpty else { Issue.record("a response without a request"); return }
                paired.append("\(open.removeFirst()) \(status ?? 0)")
            default: break
            }
        }
        #expect(paired == ["GET 200", "HEAD 200", "PUT 201", "GET 200"])
        #expect(cuts[5].1.exchange == .interim)
    }

    @Test func switchingProtocolsHandsBothDirectionsOutRaw() {
        let frame: [UInt8] = [0x81, 0x05, 0x48, 0x0D, 0x0A, 0x00, 0xFF]
        let upgrade = "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        let switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        let cuts = harness.conversation([
            (.client, Array(upgrade)),
            (.server, Array(switching) + frame),
            (.client, [0x81, 0x85] + Array("GET / HTTP/1.1\r\n\r\n")),
        ])
        #expect(cuts.map { $0.0 } == [.client, .server, .server, .client])
        #expect(cuts[1].1.text == switching)
        #expect(cuts[1].1.exchange == .response(status: 101, outcome: "Switching Protocols", error: nil))
        #expect(cuts[2].1.raw == frame)
        #expect(cuts[3].1.raw == [0x81, 0x85] + Array("GET / HTTP/1.1\r\n\r\n"))
        for (_, cut) in cuts[2...] {
            #expect(cut.fields.isEmpty && cut.error == nil && cut.exchange == nil && cut.verb == nil && cut.code == nil)
        }
    }

    @Test func aSuccessfulCONNECTTurnsTheTunnelRawEvenWhenTheClientSpeaksFirst() {
        let hello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]
        let connect = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
        let cuts = harness.conversation([
            (.client, Array(connect) + hello),
            (.server, Array("HTTP/1.1 200 Connection Established\r\n\r\n") + [0x16, 0x03, 0x03]),
            (.client, [0x17, 0x03]),
        ])
        #expect(cuts.map { "\($0.0)" } == ["client", "server", "server", "client"])
        #expect(cuts[0].1.exchange == .request(method: "CONNECT", target: "example.com:443"))
        #expect(cuts[1].1.exchange == .response(status: 200, outcome: "Connection Established", error: nil))
        #expect(cuts[2].1.raw == [0x16, 0x03, 0x03])
        #expect(cuts[3].1.raw == hello + [0x17, 0x03])
        #expect(cuts[3].1.fields.isEmpty && cuts[3].1.error == nil)
    }

    @Test func theHTTP2PrefaceLeavesHTTP1() {
        let settings: [UInt8] = [0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]
        let cuts = harness.conversation([
            (.client, Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + settings),
            (.server, settings),
        ])
        #expect(cuts.map(\.1.text) == ["PRI * HTTP/2.0\r\n\r\n", "SM\r\n\r\n" + String(decoding: settings, as: UTF8.self),
                                       String(decoding: settings, as: UTF8.self)])
        #expect(cuts.allSatisfy { $0.1.error == nil && $0.1.exchange == nil })
        #expect(cuts[0].1.verb == "PRI")
    }

    @Test func aRefusedCONNECTStaysHTTP() {
        let cuts = harness.conversation([
            (.client, Array("CONNECT x:443 HTTP/1.1\r\n\r\n")),
            (.server, Array("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")),
            (.client, Array(Self.get)),
            (.server, Array(Self.ok)),
        ])
        #expect(cuts.map(\.1.code) == [nil, 407, nil, 200])
        #expect(cuts[2].1.verb == "GET")
    }

    @Test func largeBodiesComeOutInPiecesOfTheMessageLimit() {
        let small = DecoderHarness(proto: HTTP1Protocol.self, limits: DecoderLimits(maxLineLength: 128, maxMessageBytes: 10, maxHeaderBytes: 256))
        let requestHead = "POST /up HTTP/1.1\r\nContent-Length: 25\r\n\r\n"
        let body = "abcdefghijklmnopqrstuvwxy"
        let cuts = small.expectResplitInvariant(Array(requestHead + body + Self.get), .client)
        #expect(cuts.map(\.text) == [requestHead + "abcdefghij", "klmnopqrst", "uvwxy", Self.get])
        #expect(cuts[0].fields[field: "body_length"] == .integer(10))
        #expect(cuts[0].exchange == .request(method: "POST", target: "/up"))
        #expect(cuts[1].fields == [MessageField("continuation", .bool(true))])
        #expect(cuts[2].fields == [MessageField("continuation", .bool(true))])
        #expect(cuts[1].exchange == nil && cuts[2].exchange == nil && cuts[1].verb == nil)

        let responseHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        let chunkedBody = "8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n"
        let responses = small.expectResplitInvariant(Array(responseHead + chunkedBody + Self.ok), .server)
        #expect(responses.map(\.text) == [responseHead + "8\r\n0123456", "7\r\n8\r\n89ab", "cdef\r\n0\r\n\r", "\n", Self.ok])
        #expect(responses[0].exchange == nil && responses[0].code == 200)
        #expect(responses[3].exchange == .response(status: 200, outcome: "OK", error: nil))
        #expect(responses[3].fields == [MessageField("continuation", .bool(true))])

        let close = small.expectResplitInvariant(Array("HTTP/1.0 200 OK\r\n\r\n" + String(repeating: "z", count: 20)), .server)
        #expect(close.map(\.raw.count) == [19 + 10, 10])
        #expect(close.map(\.exchange) == [nil, .response(status: 200, outcome: "OK", error: nil)])
    }

    @Test func aHugeBodyIsNeverBufferedWhole() {
        let limits = DecoderLimits(maxLineLength: 1024, maxMessageBytes: 4096, maxHeaderBytes: 1024)
        let pair = HTTP1Protocol.makeDecoders(limits: limits)
        var stream = MessageStream(decoder: pair.server, limits: limits)
        var total = 0, messages = 0
        let emit = { (m: DecodedMessage) in
            #expect(m.decodeError == nil)
            total += m.raw.readableBytes
            messages += 1
        }
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 20000000\r\n\r\n"
        stream.feed(ByteBuffer(string: head), emit)
        let chunk = ByteBuffer(repeating: 0x61, count: 65536)
        var sent = head.utf8.count
        while sent < head.utf8.count + 20_000_000 {
            let size = min(chunk.readableBytes, head.utf8.count + 20_000_000 - sent)
            stream.feed(chunk.getSlice(at: 0, length: size)!, emit)
            sent += size
            #expect(stream.pendingByteCount <= 4096 + head.utf8.count)
        }
        stream.finish(emit)
        #expect(total == sent)
        #expect(messages == (20_000_000 + 4095) / 4096)
    }

    @Test func truncatedMessagesAndLyingLengthsAreRecordedTruncated() {
        let lying = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"
        let cuts = harness.decode([Array(Self.get), Array(lying)], .client)
        #expect(cuts.map(\.text) == [Self.get, lying])
        #expect(cuts[1].error?.hasPrefix("truncated") == true)
        let halfHead = harness.decode("HTTP/1.1 200 OK\r\nContent-Le", .server)
        #expect(halfHead.count == 1 && halfHead[0].error?.hasPrefix("truncated") == true)
        let halfChunk = harness.decode(Self.okChunked.dropLast(3).description, .server)
        #expect(halfChunk.count == 1 && halfChunk[0].error?.hasPrefix("truncated") == true)
    }

    @Test(arguments: [
        ("Content-Length: 5\r\nContent-Length: 6\r\n", "conflicting Content-Length values"),
        ("Content-Length: 5, 6\r\n", "invalid Content-Length"),
        ("Content-Length: -1\r\n", "invalid Content-Length"),
        ("Content-Length: 99999999999999999999\r\n", "invalid Content-Length"),
        ("Content-Length: 0x10\r\n", "invalid Content-Length"),
        ("X-Folded: a\r\n  b\r\n", "obsolete line folding in a header field"),
        ("Bad Name: x\r\n", "invalid header field name"),
        ("NoColon\r\n", "header field without a name and colon"),
        ("Transfer-Encoding: gzip\r\n", "request Transfer-Encoding does not end in chunked"),
    ])
    func badHeadsAreDecodeErrors(header: String, reason: String) {
        let head = "POST / HTTP/1.1\r\n" + header + "\r\n"
        let cuts = harness.decode(Self.get + head + "hello" + Self.get, .client)
        #expect(cuts.map(\.text) == [Self.get, head, "hello" + Self.get])
        #expect(cuts[1].error == reason)
        #expect(cuts[2].error == nil && cuts[2].fields.isEmpty)
    }

    @Test func repeatedEqualContentLengthsAreAccepted() {
        let cuts = harness.decode("POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2, 2\r\n\r\nhi", .client)
        #expect(cuts.count == 1 && cuts[0].error == nil && cuts[0].fields[field: "body_length"] == .integer(2))
    }

    @Test(arguments: [
        ("10000000000000000\r\n", "chunk size too large"),  // 2^64
        ("8000000000000000\r\n", "chunk size too large"),  // 2^63
        ("zz\r\n", "invalid chunk size"),
        ("3\r\nabcX", "chunk data not followed by CRLF"),
    ])
    func badChunksAreDecodeErrors(body: String, reason: String) {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        let cuts = harness.decode(head + body + "more", .server)
        #expect(cuts.flatMap(\.raw) == Array(head + body + "more"))
        #expect(cuts[0].error == reason)
        #expect(cuts.count == 2 && cuts[1].fields.isEmpty)
    }

    @Test func aGiantHeadIsCutAtTheLimitAndTheRestRecordedRaw() {
        let limits = DecoderLimits(maxLineLength: 64 * 1024, maxMessageBytes: 1 << 20, maxHeaderBytes: 64 * 1024)
        let pair = HTTP1Protocol.makeDecoders(limits: limits)
        var stream = MessageStream(decoder: pair.client, limits: limits)
        var cuts: [DecodedMessage] = []
        let start = "GET / HTTP/1.1\r\nX-Big: "
        stream.feed(ByteBuffer(string: start), { cuts.append($0) })
        let chunk = ByteBuffer(repeating: 0x61, count: 60000)
        var total = start.utf8.count
        for _ in 0..<200 {  // 12 MB standing in for a gigabyte
            stream.feed(chunk, { cuts.append($0) })
            total += 60000
            #expect(stream.pendingByteCount <= limits.maxHeaderBytes)
        }
        stream.finish { cuts.append($0) }
        #expect(cuts.first?.decodeError == "HTTP head longer than 65536 bytes")
        #expect(cuts.first?.raw.readableBytes == 65536)
        #expect(cuts.dropFirst().allSatisfy { $0.decodeError == nil && $0.fields.isEmpty })
        #expect(cuts.reduce(0) { $0 + $1.raw.readableBytes } == total)
    }

    @Test func binaryGarbageIsNotHTTP() {
        let garbage: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x0A, 0x0D, 0x0A]
        let cuts = harness.decode([garbage], .client)
        #expect(cuts.flatMap(\.raw) == garbage)
        #expect(cuts.first?.error == "invalid HTTP request method")
        let status = harness.decode("HTTP/1.1 2x0 OK\r\n\r\n", .server)
        #expect(status.first?.error == "invalid HTTP status code")
    }

    @Test func randomAndMutatedInputNeverLosesAByte() {
        harness.expectSurvivesGarbage(seedCorpus: [Array(Self.requests), Array(Self.get + Self.chunked)], .client)
        harness.expectSurvivesGarbage(seedCorpus: [Array(Self.responses), Array(Self.okChunked + Self.ok)], .server)
        let small = DecoderHarness(proto: HTTP1Protocol.self, limits: DecoderLimits(maxLineLength: 32, maxMessageBytes: 16, maxHeaderBytes: 64))
        small.expectSurvivesGarbage(seedCorpus: [Array(Self.requests)], .client, iterations: 150)
        small.expectSurvivesGarbage(seedCorpus: [Array(Self.responses)], .server, iterations: 150)
    }

    /// Throughput of both decoders over keep-alive traffic (run with WIRELOG_HTTP_BENCH=1, in release).
    @Test(.enabled(if: getenv("WIRELOG_HTTP_BENCH") != nil)) func throughput() {
        let body = String(repeating: "x", count: 1000)
        let request = Array("POST /api/items?id=42 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n"
            + "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n" + body + Self.get)
        let response = Array("HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "3e8\r\n" + body + "\r\n0\r\n\r\n" + Self.ok)
        for (side, unit) in [(Sender.client, request), (.server, response)] {
            var stream = Array(repeating: unit, count: 20_000).flatMap { $0 }
            stream.append(contentsOf: [])
            let reads = stride(from: 0, to: stream.count, by: 65536).map { ByteBuffer(bytes: stream[$0..<min($0 + 65536, stream.count)]) }
            let limits = DecoderLimits()
            let pair = HTTP1Protocol.makeDecoders(limits: limits)
            var driver = MessageStream(decoder: side == .client ? pair.client : pair.server, limits: limits)
            var messages = 0
            let start = ContinuousClock.now
            for read in reads { driver.feed(read) { _ in messages += 1 } }
            driver.finish { _ in messages += 1 }
            let seconds = Double((ContinuousClock.now - start).components.attoseconds) / 1e18 + Double((ContinuousClock.now - start).components.seconds)
            print("http \(side): \(stream.count / 1_000_000) MB, \(messages) messages, \(Int(Double(stream.count) / seconds / 1e6)) MB/s, \(Int(Double(messages) / seconds)) msg/s")
            #expect(messages == 40_000)
        }
    }

    @Test func httpIsRecognisedByAMethodAndASpace() {
        func recognise(_ text: String) -> Recognition { HTTP1Protocol.recognise(ByteBuffer(string: text).readableBytesView) }
        #expect(recognise("GET / HTTP/1.1\r\n") == .yes)
        #expect(recognise("OPTIONS ") == .yes)
        #expect(recognise("CONNECT x:443 HTTP/1.1") == .yes)
        #expect(recognise("") == .needMore)
        #expect(recognise("POS") == .needMore)
        #expect(recognise("OPTIONS") == .needMore)
        #expect(recognise("GETX /") == .no)
        #expect(recognise("get / HTTP/1.1") == .no)
        #expect(recognise("HELO x") == .no)
        #expect(recognise("\u{16}\u{03}") == .no)
    }
}
