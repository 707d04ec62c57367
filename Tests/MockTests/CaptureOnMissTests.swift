import Backends
import Foundation
import Mock
import Recording
import Testing
import TestSupport

/// Capture on miss on real sockets, past what redis shows: the connection handed to the proxy's
/// glue with the bytes the mock read but did not answer, and the end of the client's input.
@Suite struct CaptureOnMissTests {
    /// A store with one recorded exchange, `HELLO\n` answered `hi\n`, a listener standing for the
    /// real server and a mock that sends misses to it.
    private static func start(_ backend: TestBackend, in directory: TemporaryDirectory,
                              configure: (inout MockConfiguration) -> Void = { _ in }) async throws -> (MockHarness, TestListener) {
        let store = try backend.freshStore(in: directory)
        _ = try await Recordings.write([[(.client, "HELLO\n"), (.server, "hi\n")]], to: store)
        let upstream = try TestListener()
        let mock = try await MockHarness.start(store: store) {
            $0.onMiss = .upstream(host: "127.0.0.1", port: upstream.port)
            configure(&$0)
        }
        return (mock, upstream)
    }

    /// A client's `MISS` line goes upstream and the upstream's `ok` comes back: both ends, connected.
    private static func missAnsweredUpstream(mockPort: Int, upstream: TestListener) throws -> (client: TestSocket, server: TestSocket) {
        let client = try TestSocket.connect(port: mockPort)
        try client.send(Array("MISS\n".utf8))
        let server = try upstream.accept()
        _ = try server.receive(exactly: 5)
        try server.send(Array("ok\n".utf8))
        _ = try client.receive(exactly: 3)
        return (client, server)
    }

    /// Bytes read with the miss (whole lines and an unterminated rest) and the client's half-close
    /// reach the upstream after the missed line, in order and once; its answer reaches the client
    /// after the recorded reply. The capture holds the exchange from the miss on, decoded; both
    /// sessions end with the client's half-close.
    @Test(arguments: TestBackend.allCases)
    func bytesReadWithTheMissAndTheEndOfInputGoUpstream(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let (capturing, upstream) = try await Self.start(backend, in: directory) { $0.framing = .line }
        let request = "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody"
        let response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let port = capturing.port
        let (heard, answered) = try await onThread { () throws -> (String, String) in
            let client = try TestSocket.connect(port: port)
            try client.send(Array("HELLO\n\(request)".utf8))
            client.shutdownWrite()
            let server = try upstream.accept()
            let heard = try server.receiveAll()
            try server.send(Array(response.utf8))
            server.close()
            return (String(decoding: heard, as: UTF8.self), String(decoding: try client.receiveAll(), as: UTF8.self))
        }
        await capturing.stop()
        #expect(heard == request)
        #expect(answered == "hi\n\(response)")

        let store = capturing.store
        let capture = try #require(try await RecordedRows.sessions(store).first { $0.kind == "proxy" && $0.serverPort == upstream.port })
        #expect(capture.decoding == "http", "decoded like any proxy session")
        #expect(capture.endReason == "client_closed")
        #expect(capture.bytesFromClient == Int64(request.utf8.count) && capture.bytesFromServer == Int64(response.utf8.count))
        let messages = try await RecordedRows.messages(store, session: capture.id)
        #expect(messages.map(\.rawText) == [request, response])
        let mocked = try await capturing.mockSessions()
        #expect(mocked.map(\.summary.endReason) == ["client_closed"], "ends with the proxied connection, for its reason")
        #expect(mocked.first?.messages.map { String(decoding: $0.raw, as: UTF8.self) }
            == ["HELLO\n", "hi\n", "POST / HTTP/1.1\r\n", "Content-Length: 4\r\n", "\r\n", "body"])
    }

    /// A client that closes first, after the handover, ends both sessions as a client close, as
    /// the proxy records the same client (the upstream closes only after it).
    @Test(arguments: TestBackend.allCases)
    func aClientThatClosesFirstEndsBothSessionsAsClientClosed(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let (capturing, upstream) = try await Self.start(backend, in: directory)
        let port = capturing.port
        let serverHeard = try await onThread { () throws -> [UInt8] in
            let (client, server) = try Self.missAnsweredUpstream(mockPort: port, upstream: upstream)
            client.close()
            // The upstream hears the close, then closes too.
            let rest = try server.receiveAll()
            server.close()
            return rest
        }
        #expect(serverHeard.isEmpty)
        await capturing.stop()
        let sessions = try await RecordedRows.sessions(capturing.store)
        let capture = try #require(sessions.first { $0.kind == "proxy" && $0.serverPort == upstream.port })
        #expect(capture.endReason == "client_closed")
        #expect(try await capturing.mockSessions().map(\.summary.endReason) == ["client_closed"])
    }

    /// The mock's graceful shutdown cuts a connection still proxied after its grace period, as the
    /// proxy's does: the capture ends (reason shutdown) and is committed.
    @Test(arguments: TestBackend.allCases)
    func shutdownEndsAndCommitsTheCapture(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let (capturing, upstream) = try await Self.start(backend, in: directory)
        let port = capturing.port
        let (client, server) = try await onThread { try Self.missAnsweredUpstream(mockPort: port, upstream: upstream) }
        await capturing.server.shutdownGracefully(grace: .milliseconds(200))
        #expect(try await onThread { try client.receiveAll() }.isEmpty)
        #expect(try await onThread { try server.receiveAll() }.isEmpty)
        let sessions = try await RecordedRows.sessions(capturing.store)
        let capture = try #require(sessions.first { $0.kind == "proxy" && $0.serverPort == upstream.port })
        #expect(capture.endReason == "shutdown")
        #expect((capture.bytesFromClient, capture.bytesFromServer, capture.messageCount) == (5, 3, 2))
        #expect(try await capturing.mockSessions().map(\.summary.endReason) == ["shutdown"])
    }
}
