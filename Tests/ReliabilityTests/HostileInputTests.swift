import Backends
import Client
import Foundation
import LabProtocol
import Server
import Testing
import TestSupport

/// Promise 1 of docs/RELIABILITY.md: no network input crashes `serve` or grows its memory without bound.
/// Each test runs the built binary and checks afterwards that it still serves and records.
@Suite struct HostileInputTests {
    /// A `wirelog serve` child with a small line limit, and a probe that proves it is alive.
    private final class Serve {
        let dir = TemporaryDirectory()
        let process: WirelogProcess
        let port: Int
        let store: StoreLocation

        init(_ extra: [String] = [], backend: TestBackend = .sqlite) throws {
            store = try backend.freshStore(in: dir, name: "hostile")
            process = try WirelogProcess(["serve", "--listen", "127.0.0.1:0", "--db", store.argument] + extra)
            port = try process.listeningPort()
        }

        func assertStillServes() async throws {
            let connection = try await LabConnection.connect(host: "127.0.0.1", port: port)
            try await connection.send(Array("HELO\n".utf8))
            #expect(try await connection.readReply() == Array("100 OK\n".utf8))
            await connection.close()
        }

        /// Resident memory of the server process in MiB, from /proc.
        var residentMiB: Int {
            let status = (try? String(contentsOfFile: "/proc/\(process.process.processIdentifier)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
        }

        func stop() throws -> ProcessResult {
            process.signal(SIGTERM)
            let result = try process.wait(timeout: 30)
            #expect(result.failure == nil)
            return result
        }
    }

    @Test func endlessLinesFromOneByteTo100MBAreCutAtTheLimit() async throws {
        let serve = try Serve()
        var tried = 0
        for size in [1, 1_000, 65_536, 65_537, 1 << 20, 100 << 20] {
            let socket = try RawSocket(port: serve.port)
            let chunk = [UInt8](repeating: UInt8(ascii: "A"), count: min(size, 1 << 20))
            // Write up to `size` bytes with no newline; the server may hang up part way.
            _ = socket.flood(chunk, limit: size, stallTime: 2)
            socket.shutdownWrite()
            let (reply, closed) = socket.receiveUntilClosed(timeout: 10)
            #expect(closed, "no close after \(size) bytes")
            let text = String(decoding: reply, as: UTF8.self)
            if size > 65_536 {
                #expect(text.hasPrefix("400 BCMD\r\nCommand-description: Line too long"), "size \(size): \(text.prefix(80))")
            } else {
                #expect(text == "400 BCMD\r\nCommand-description: Bad command\r\n", "size \(size)")
            }
            tried += 1
        }
        try await serve.assertStillServes()
        #expect(serve.residentMiB < 200, "RSS \(serve.residentMiB) MiB after a 100 MB line")
        _ = try serve.stop()
        let reasons = try await RecordedRows.sessions(serve.store).compactMap(\.endReason)
        #expect(reasons.filter { $0 == "line_too_long" }.count == 3)
        print("hostile lines: \(tried) sizes tried, up to 100 MB")
    }

    /// What reaches the store, so on each backend; the other tests are about the input itself.
    @Test(arguments: TestBackend.allCases)
    func everyByteValueNULAndInvalidUTF8AreStoredVerbatim(_ backend: TestBackend) async throws {
        let serve = try Serve(backend: backend)
        let socket = try RawSocket(port: serve.port)
        var script: [UInt8] = []
        var expectedPayloads: [[UInt8]] = []
        for value in 0...255 where value != 0x0A {
            let payload: [UInt8] = [UInt8(value), 0x00, 0xFF, 0xC3, UInt8(value)]
            script += Array("DATA ".utf8) + payload + [0x0A]
            expectedPayloads.append(payload.last == 0x0D ? Array(payload.dropLast()) : payload)
        }
        let sqlLike = Array("'); DROP TABLE sessions; -- \" OR 1=1".utf8)
        script += Array("DATA ".utf8) + sqlLike + [0x0A] + Array("QUIT\n".utf8)
        expectedPayloads.append(sqlLike)
        try socket.sendAll(script)
        let (replies, closed) = socket.receiveUntilClosed(timeout: 20)
        #expect(closed)
        #expect(replies == Array(String(repeating: "300 DRCV\n", count: 256).utf8) + Array("200 BYE\n".utf8))
        _ = try serve.stop()
        let payloads = try await RecordedRows.messages(serve.store).compactMap(\.payload)
        #expect(payloads == expectedPayloads)
        #expect(try await RecordedRows.sessions(serve.store).count == 1)  // the SQL did nothing
    }

    @Test func tenThousandPipelinedCommandsInOneWrite() async throws {
        let serve = try Serve()
        let socket = try RawSocket(port: serve.port)
        let commands = (0..<10_000).map { "DATA \($0)\n" }.joined() + "QUIT\n"
        try socket.sendAll(Array(commands.utf8))
        let (replies, closed) = socket.receiveUntilClosed(timeout: 60)
        #expect(closed)
        #expect(replies.count == 10_000 * 9 + 8)
        _ = try serve.stop()
        #expect(try await RecordedRows.messages(serve.store).count == 2 * 10_001)
    }

    @Test func aClientThatNeverReadsIsNotBufferedForWithoutBound() async throws {
        let serve = try Serve()
        let socket = try RawSocket(port: serve.port)
        let chunk = Array(String(repeating: "HELO\n", count: 10_000).utf8)
        // If the server kept reading (and buffering replies) this would go through whole.
        let written = socket.flood(chunk, limit: 500 << 20, stallTime: 3)
        #expect(written < 100 << 20, "the server took \(written >> 20) MiB from a client that never reads")
        #expect(serve.residentMiB < 200, "RSS \(serve.residentMiB) MiB")
        try await serve.assertStillServes()
        socket.reset()
        _ = try serve.stop()
        print("non-reading client: server accepted \(written >> 10) KiB before pushing back")
    }

    @Test func aDataWhosePayloadNeverComesAndASilentClientTimeOut() async throws {
        let serve = try Serve(["--idle-timeout", "300ms"])
        let silent = try RawSocket(port: serve.port)
        let waiting = try RawSocket(port: serve.port)
        try waiting.sendAll(Array("DATA\n".utf8))
        #expect(silent.receiveUntilClosed(timeout: 10).closed)
        let (reply, closed) = waiting.receiveUntilClosed(timeout: 10)
        #expect(closed)
        #expect(reply.isEmpty)
        _ = try serve.stop()
        let reasons = try await RecordedRows.sessions(serve.store).compactMap(\.endReason)
        #expect(reasons == ["idle_timeout", "idle_timeout"])
    }

    @Test func thousandsOfConnectionsOpenedDroppedAndResetMidLine() async throws {
        let serve = try Serve()
        var opened = 0
        for round in 0..<2_000 {
            let socket = try RawSocket(port: serve.port)
            switch round % 4 {
            case 0: break  // connect and vanish
            case 1: try? socket.sendAll(Array("DATA half a li".utf8)); socket.reset()
            case 2: try? socket.sendAll(Array("HELO\nDATA\n".utf8)); socket.reset()
            default: try? socket.sendAll(Array("HELO\n".utf8))
            }
            opened += 1
        }
        try await serve.assertStillServes()
        let result = try serve.stop()
        #expect(!result.stderrText.contains("Fatal"))
        let sessions = try await RecordedRows.sessions(serve.store)
        #expect(sessions.count == opened + 1)
        #expect(sessions.allSatisfy { $0.endReason != nil })
        print("connections opened and dropped: \(opened)")
    }
}
