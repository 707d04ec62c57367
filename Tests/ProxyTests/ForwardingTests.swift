import Foundation
import Testing
import TestSupport

/// Byte-exact forwarding and its recording, half-close, faults: peers are plain sockets.
@Suite struct ForwardingTests {
    @Test(arguments: TestBackend.allCases)
    func sixteenMiBOfRandomBytesEachWayArriveAndAreRecordedIntact(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let upstream = try TestListener()
        let proxy = try await ProxyHarness.start(upstreamPort: upstream.port, store: try backend.freshStore(in: directory))
        let size = 16 << 20
        let clientData = randomBytes(size, seed: 1)
        let serverData = randomBytes(size, seed: 2)

        // Both directions at once: each peer sends on one thread and receives on another.
        async let serverReceived: [UInt8] = onThread {
            let socket = try upstream.accept()
            let sent = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                try? socket.send(serverData)
                sent.signal()
            }
            let received = try socket.receiveAll()
            // Answer the client's half-close only once everything is sent.
            guard sent.wait(timeout: .now() + 60) == .success else { throw SocketError.timedOut("sending") }
            socket.shutdownWrite()
            return received
        }
        let client = try TestSocket.connect(port: proxy.port)
        async let clientSent: Void = onThread {
            try client.send(clientData)
            client.shutdownWrite()
        }
        let clientReceived = try await onThread { try client.receiveAll() }
        try await clientSent
        #expect(sameBytes(try await serverReceived, clientData))
        #expect(sameBytes(clientReceived, serverData))
        await proxy.stop()

        let session = try #require(try await RecordedRows.sessions(proxy.store).first)
        #expect(session.kind == "proxy")
        #expect(session.decoding == "raw")
        #expect(session.endReason == "client_closed")
        #expect(session.bytesFromClient == Int64(size))
        #expect(session.bytesFromServer == Int64(size))
        let messages = try await RecordedRows.messages(proxy.store, session: session.id)
        #expect(session.messageCount == Int64(messages.count))
        #expect(messages.map(\.seq) == Array(1...Int64(messages.count)))
        #expect(sameBytes(recordedStream(messages, sender: "client"), clientData))
        #expect(sameBytes(recordedStream(messages, sender: "server"), serverData))
        #expect(messages.allSatisfy { $0.verb == nil && $0.payload == nil && $0.replyCode == nil })
        if let path = proxy.store.sqlitePath { #expect(try RecordedRows.integrityCheck(path) == "ok") }
    }

    @Test(arguments: TestBackend.allCases)
    func halfCloseIsCarriedAcrossInBothDirections(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let upstream = try TestListener()
        // A host name, resolved by the proxy.
        let proxy = try await ProxyHarness.start(
            upstreamPort: upstream.port, upstreamHost: "localhost", store: try backend.freshStore(in: directory))

        // The client finishes first, then still receives the whole answer.
        async let answered: [UInt8] = onThread {
            let socket = try upstream.accept()
            let request = try socket.receiveAll()
            try socket.send(Array("answer to ".utf8) + request)
            socket.close()
            return request
        }
        let client = try TestSocket.connect(port: proxy.port)
        try client.send(Array("question".utf8))
        client.shutdownWrite()
        #expect(try await onThread { try client.receiveAll() } == Array("answer to question".utf8))
        #expect(try await answered == Array("question".utf8))

        // The server finishes first, then still receives what the client sends afterwards.
        async let late: [UInt8] = onThread {
            let socket = try upstream.accept()
            try socket.send(Array("banner".utf8))
            socket.shutdownWrite()
            return try socket.receiveAll()
        }
        let second = try TestSocket.connect(port: proxy.port)
        #expect(try await onThread { try second.receiveAll() } == Array("banner".utf8))
        try second.send(Array("after your close".utf8))
        second.shutdownWrite()
        #expect(try await late == Array("after your close".utf8))
        _ = try await endedSessions(proxy.store, count: 2)
        await proxy.stop()

        let sessions = try await RecordedRows.sessions(proxy.store)
        #expect(sessions.map(\.endReason) == ["client_closed", "server_closed"])
        #expect(sessions.allSatisfy { $0.serverHost == "localhost" && $0.serverPort == upstream.port })
        let first = try await RecordedRows.messages(proxy.store, session: sessions[0].id)
        #expect(first.map(\.sender) == ["client", "server"])
        #expect(first.map(\.rawText) == ["question", "answer to question"])
        let secondMessages = try await RecordedRows.messages(proxy.store, session: sessions[1].id)
        #expect(secondMessages.map(\.rawText) == ["banner", "after your close"])
    }

    @Test(arguments: TestBackend.allCases)
    func upstreamDownClosesTheClientAndIsRecordedAsRefused(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let proxy = try await ProxyHarness.start(upstreamPort: try freePort(), store: try backend.freshStore(in: directory))
        let client = try TestSocket.connect(port: proxy.port)
        // Closed promptly: end of stream (or a reset) well within the connect timeout.
        let closed = try await onThread { () -> Bool in
            do { return try client.receive(timeout: 3) == nil } catch SocketError.reset { return true }
        }
        #expect(closed)
        let sessions = try await endedSessions(proxy.store, count: 1)
        await proxy.stop()
        #expect(sessions.map(\.endReason) == ["upstream_refused"])
        #expect(sessions.first?.bytesFromServer == 0)
    }

    @Test(arguments: TestBackend.allCases)
    func unansweringUpstreamTimesOut(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let silent = try UnansweringListener()
        let proxy = try await ProxyHarness.start(upstreamPort: silent.port, store: try backend.freshStore(in: directory)) {
            $0.connectTimeout = .milliseconds(300)
        }
        let client = try TestSocket.connect(port: proxy.port)
        try client.send(Array("hello?".utf8))
        let closed = try await onThread { () -> Bool in
            do { return try client.receive(timeout: 5) == nil } catch SocketError.reset { return true }
        }
        #expect(closed)
        let sessions = try await endedSessions(proxy.store, count: 1)
        await proxy.stop()
        #expect(sessions.map(\.endReason) == ["upstream_timeout"])
        // What the client sent reached the proxy, so it is recorded even though it went nowhere.
        let messages = try await RecordedRows.messages(proxy.store)
        #expect(recordedStream(messages, sender: "client") == Array("hello?".utf8))
    }

    @Test(arguments: TestBackend.allCases)
    func upstreamResetMidStreamDeliversWhatCameResetsTheClientAndIsRecordedAsReset(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let upstream = try TestListener()
        let proxy = try await ProxyHarness.start(upstreamPort: upstream.port, store: try backend.freshStore(in: directory))
        let data = randomBytes(1 << 20, seed: 3)
        let client = try TestSocket.connect(port: proxy.port)
        let server = try await onThread { try upstream.accept() }
        try await onThread { try server.send(data) }
        #expect(try await onThread { try client.receive(exactly: data.count) } == data)
        server.reset()
        // The reset is passed on: the client sees ECONNRESET, not a clean end of stream.
        let rest = try await onThread { () -> [UInt8]? in
            do { return try client.receiveAll() } catch SocketError.reset { return nil }
        }
        #expect(rest == nil)
        let sessions = try await endedSessions(proxy.store, count: 1)
        await proxy.stop()
        #expect(sessions.map(\.endReason) == ["reset"])
        #expect(sessions.first?.bytesFromServer == Int64(data.count))
        #expect(recordedStream(try await RecordedRows.messages(proxy.store), sender: "server") == data)
    }

    @Test(arguments: TestBackend.allCases)
    func clientResetMidStreamDeliversWhatCameResetsTheUpstreamAndIsRecordedAsReset(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let upstream = try TestListener()
        let proxy = try await ProxyHarness.start(upstreamPort: upstream.port, store: try backend.freshStore(in: directory))
        let data = randomBytes(1 << 20, seed: 4)
        let client = try TestSocket.connect(port: proxy.port)
        let server = try await onThread { try upstream.accept() }
        try await onThread { try client.send(data) }
        #expect(try await onThread { try server.receive(exactly: data.count) } == data)
        client.reset()
        let rest = try await onThread { () -> [UInt8]? in
            do { return try server.receiveAll() } catch SocketError.reset { return nil }
        }
        #expect(rest == nil)
        let sessions = try await endedSessions(proxy.store, count: 1)
        await proxy.stop()
        #expect(sessions.map(\.endReason) == ["reset"])
        #expect(sessions.first?.bytesFromClient == Int64(data.count))
        #expect(recordedStream(try await RecordedRows.messages(proxy.store), sender: "client") == data)
    }

    @Test(arguments: TestBackend.allCases)
    func connectionsOverTheLimitAreClosedAndRecordedAsRefused(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let upstream = try TestListener()
        let proxy = try await ProxyHarness.start(upstreamPort: upstream.port, store: try backend.freshStore(in: directory)) {
            $0.maxConnections = 1
        }
        let first = try TestSocket.connect(port: proxy.port)
        let server = try await onThread { try upstream.accept() }
        let second = try TestSocket.connect(port: proxy.port)
        let refused = try await onThread { () -> Bool in
            do { return try second.receive(timeout: 5) == nil } catch SocketError.reset { return true }
        }
        #expect(refused)
        // The first connection is unaffected.
        try first.send(Array("still here".utf8))
        #expect(try await onThread { try server.receive(exactly: 10) } == Array("still here".utf8))
        first.close()
        // The client's close has reached the upstream before the upstream closes: client_closed.
        #expect(try await onThread { try server.receive(timeout: 5) } == nil)
        server.close()
        let sessions = try await endedSessions(proxy.store, count: 2)
        await proxy.stop()
        #expect(Set(sessions.compactMap(\.endReason)) == ["refused", "client_closed"])
    }

    @Test(arguments: TestBackend.allCases)
    func listensOnIPv6(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let upstream = try TestListener()
        let proxy = try await ProxyHarness.start(upstreamPort: upstream.port, store: try backend.freshStore(in: directory)) {
            $0.listenHost = "::1"
        }
        let client = try TestSocket.connect(port: proxy.port, ipv6: true)
        try client.send(Array("over v6".utf8))
        client.shutdownWrite()
        let server = try await onThread { try upstream.accept() }
        #expect(try await onThread { try server.receiveAll() } == Array("over v6".utf8))
        server.close()
        _ = try await endedSessions(proxy.store, count: 1)
        await proxy.stop()
        let session = try #require(try await RecordedRows.sessions(proxy.store).first)
        #expect(session.clientHost == "::1")
    }
}
