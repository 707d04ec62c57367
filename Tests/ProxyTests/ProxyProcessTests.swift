import Foundation
import Presentation
import Testing
import TestSupport
@testable import WirelogCLI

private func exposureWarningText(_ host: String) -> String? {
    exposureWarning(HostPort(host: host, port: 7070))
}

/// The built `wirelog proxy` binary: signals, exit status, memory.
@Suite struct ProxyProcessTests {
    /// The first Ctrl-C waits for open connections; a second one stops at once. (Signals only,
    /// nothing recorded is read: one backend is enough.)
    @Test func aSecondInterruptStopsAtOnce() async throws {
        let directory = TemporaryDirectory()
        let upstream = try TestListener()
        let proxy = try WirelogProcess([
            "proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(upstream.port)",
            "--db", directory.file("p.sqlite"), "--shutdown-grace", "120s",
        ])
        let client = try TestSocket.connect(port: try proxy.listeningPort())
        let server = try await onThread { try upstream.accept() }
        proxy.signal(SIGINT)
        try proxy.waitForStderr(containing: "shutting down: waiting up to 2m00s for 1 open connection")
        let interrupted = Date()
        proxy.signal(SIGINT)
        let result = try proxy.wait(timeout: 30)
        #expect(result.status == 130)
        #expect(Date().timeIntervalSince(interrupted) < 30)
        #expect(result.stderrText.contains("interrupted again: stopping at once"))
        client.close()
        server.close()
    }

    @Test func listeningOnEveryNetworkIsWarnedAbout() {
        #expect(exposureWarningText("0.0.0.0")?.contains("accepts connections from every network") == true)
        #expect(exposureWarningText("::")?.contains("every network") == true)
        #expect(exposureWarningText("127.0.0.1") == nil)
        #expect(exposureWarningText("::1") == nil)
        #expect(exposureWarningText("192.0.2.7")?.contains("other machines") == true)
    }

    @Test(arguments: TestBackend.allCases)
    func sigtermEndsTransfersInFlightAndLosesNothing(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let database = try backend.freshStore(in: directory)
        let upstream = try TestListener()
        let proxy = try WirelogProcess([
            "proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(upstream.port)", "--db", database.argument,
            "--shutdown-grace", "1s", "--threads", "1",
        ])
        let port = try proxy.listeningPort()

        // A connection whose answer comes during the grace period.
        let quiet = try TestSocket.connect(port: port)
        let quietServer = try await onThread { try upstream.accept() }
        try quiet.send(Array("request".utf8))
        quiet.shutdownWrite()
        #expect(try await onThread { try quietServer.receive(exactly: 7) } == Array("request".utf8))

        // A connection streaming both ways past the grace period.
        let block = randomBytes(64 << 10, seed: 6)
        let busy = try TestSocket.connect(port: port)
        let busyServer = try await onThread { try upstream.accept() }
        let (atClient, atServer) = (Progress(), Progress())
        async let clientSent = onThread { sendForever(busy, block) }
        async let serverSent = onThread { sendForever(busyServer, block) }
        async let clientReceived = onThread { receiveUntilClosed(busy, progress: atClient) }
        async let serverReceived = onThread { receiveUntilClosed(busyServer, progress: atServer) }
        // Let data flow, both ways, before the signal.
        try await atClient.waitUntil(atLeast: 1 << 20, timeout: 30)
        try await atServer.waitUntil(atLeast: 1 << 20, timeout: 30)

        proxy.signal(SIGTERM)
        try quietServer.send(Array("response".utf8))
        quietServer.close()
        #expect(try await onThread { try quiet.receiveAll() } == Array("response".utf8))
        let result = try proxy.wait(timeout: 30)
        #expect(result.failure == nil)

        let (toServer, toClient) = (try await serverReceived, try await clientReceived)
        _ = (try await clientSent, try await serverSent)
        let sessions = try await RecordedRows.sessions(database)
        #expect(sessions.map(\.endReason) == ["client_closed", "shutdown"])
        let quietMessages = try await RecordedRows.messages(database, session: sessions[0].id)
        #expect(quietMessages.map(\.rawText) == ["request", "response"])

        // Everything the proxy read is recorded; what reached each peer is a prefix of it.
        let busyMessages = try await RecordedRows.messages(database, session: sessions[1].id)
        let fromClient = recordedStream(busyMessages, sender: "client")
        let fromServer = recordedStream(busyMessages, sender: "server")
        #expect(sessions[1].bytesFromClient == Int64(fromClient.count))
        #expect(sessions[1].bytesFromServer == Int64(fromServer.count))
        #expect(sameBytes(fromClient, patternPrefix(block, count: fromClient.count)))
        #expect(sameBytes(fromServer, patternPrefix(block, count: fromServer.count)))
        #expect(sameBytes(toServer, fromClient.prefix(toServer.count)))
        #expect(sameBytes(toClient, fromServer.prefix(toClient.count)))
        #expect(toClient.count >= 1 << 20 && toServer.count >= 1 << 20)
        if let path = database.sqlitePath { #expect(try RecordedRows.integrityCheck(path) == "ok") }
    }

    @Test(arguments: TestBackend.allCases)
    func aReceiverThatStopsReadingStopsTheSenderAndMemoryStaysBounded(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let database = try backend.freshStore(in: directory)
        let upstream = try TestListener()
        let proxy = try WirelogProcess([
            "proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(upstream.port)", "--db", database.argument,
        ])
        let port = try proxy.listeningPort()
        let baseline = try memoryFigure("VmRSS", pid: proxy.process.processIdentifier)
        let block = randomBytes(1 << 20, seed: 7)
        let total = 64 << 20
        let progress = Progress()

        let client = try TestSocket.connect(port: port, receiveBuffer: 64 << 10)
        let server = try await onThread { try upstream.accept() }
        async let sent: Void = onThread {
            for _ in 0..<(total / block.count) {
                try server.send(block, timeout: 60)
                progress.add(block.count)
            }
            server.close()
        }
        // The client reads nothing: the sender must stall well short of the total.
        let stalledAt = try await progress.waitUntilStalled(for: 0.5, timeout: 30)
        #expect(stalledAt < total / 2, "the proxy kept reading from a server whose client does not read")
        let stalledRSS = try memoryFigure("VmRSS", pid: proxy.process.processIdentifier)

        // Now read it all, checking every byte.
        let intact = try await onThread { () -> Bool in
            var offset = 0
            while let chunk = try client.receive(max: 256 << 10, timeout: 30) {
                // Chunks arrive whole-block aligned or not: compare against the pattern piecewise.
                var index = 0
                while index < chunk.count {
                    let start = (offset + index) % block.count
                    let length = min(chunk.count - index, block.count - start)
                    guard sameBytes(Array(chunk[index..<(index + length)]), block[start..<(start + length)]) else { return false }
                    index += length
                }
                offset += chunk.count
            }
            return offset == total
        }
        try await sent
        #expect(intact)
        client.close()
        _ = try await endedSessions(database, count: 1, timeout: 30)
        let peak = try memoryFigure("VmHWM", pid: proxy.process.processIdentifier)
        proxy.signal(SIGTERM)
        #expect(try proxy.wait(timeout: 30).failure == nil)

        // 64 MiB crossed and were recorded; the proxy's memory grew by far less.
        #expect(peak - baseline < 16 << 20, "peak \(peak >> 20) MiB, baseline \(baseline >> 20) MiB, stalled \(stalledRSS >> 20) MiB")
        let session = try #require(try await RecordedRows.sessions(database).first)
        #expect(session.bytesFromServer == Int64(total))
        #expect(session.endReason == "server_closed")
        let recorded = recordedStream(try await RecordedRows.messages(database, session: session.id), sender: "server")
        #expect(sameBytes(recorded, patternPrefix(block, count: total)))
    }
}

/// `block` repeated, cut at `count` bytes.
private func patternPrefix(_ block: [UInt8], count: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count)
    while bytes.count < count { bytes += block.prefix(count - bytes.count) }
    return bytes
}

/// Sends `block` again and again until the connection fails; returns how much went out.
private func sendForever(_ socket: TestSocket, _ block: [UInt8]) -> Int {
    var sent = 0
    while (try? socket.send(block, timeout: 30)) != nil { sent += block.count }
    return sent
}

private func receiveUntilClosed(_ socket: TestSocket, progress: Progress) -> [UInt8] {
    var received: [UInt8] = []
    while let chunk = try? socket.receive(max: 1 << 20, timeout: 30) {
        received += chunk
        progress.add(chunk.count)
    }
    return received
}

/// A figure from /proc/PID/status ("VmRSS", "VmHWM") in bytes.
private func memoryFigure(_ name: String, pid: Int32) throws -> Int {
    let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
          let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else {
        throw SocketError.failed("reading \(name) of process \(pid)", 0)
    }
    return kilobytes << 10
}

/// A counter one thread bumps while another waits for it to stop moving.
private final class Progress: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func add(_ count: Int) {
        lock.lock()
        value += count
        lock.unlock()
    }

    var current: Int {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    func waitUntil(atLeast target: Int, timeout: TimeInterval) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while current < target {
            guard Date() < deadline else { throw SocketError.timedOut("\(target) bytes (at \(current))") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The value once it has not changed for `quiet` seconds.
    func waitUntilStalled(for quiet: TimeInterval, timeout: TimeInterval) async throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        var last = current
        var since = Date()
        while Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
            let now = current
            if now != last {
                last = now
                since = Date()
            } else if Date().timeIntervalSince(since) >= quiet {
                return now
            }
        }
        throw SocketError.timedOut("the sender never stalled (at \(current) bytes)")
    }
}
