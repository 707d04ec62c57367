import Backends
import Client
import Foundation
import Testing
import TestSupport

/// The built `wirelog` binary, driven as a user would: signals, crashes, real third-party clients.
@Suite struct ServeProcessTests {
    private func startServe(_ store: StoreLocation, _ extra: [String] = []) throws -> (WirelogProcess, Int) {
        let serve = try WirelogProcess(["serve", "--listen", "127.0.0.1:0", "--db", store.argument] + extra)
        return (serve, try serve.listeningPort())
    }

    @Test(arguments: TestBackend.allCases)
    func sigtermAnswersWhatWasReceivedAndEndsSessionsWithShutdown(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir)
        let (serve, port) = try startServe(store)
        var connections: [LabConnection] = []
        for _ in 0..<5 {
            let connection = try await LabConnection.connect(host: "127.0.0.1", port: port)
            try await connection.send(Array("HELO\n".utf8))
            #expect(try await connection.readReply() == Array("100 OK\n".utf8))
            // Received but unterminated: the shutdown must still answer and record it.
            try await connection.send(Array("DATA in flight".utf8))
            connections.append(connection)
        }
        serve.signal(SIGTERM)
        for connection in connections {
            #expect(try await connection.readReply() == Array("300 DRCV\n".utf8))
            #expect(try await connection.readReply() == nil)
            await connection.close()
        }
        let result = try serve.wait(timeout: 30)
        #expect(result.failure == nil)
        let sessions = try await RecordedRows.sessions(store)
        #expect(sessions.count == 5)
        #expect(sessions.allSatisfy { $0.endReason == "shutdown" })
        let payloads = try await RecordedRows.messages(store).compactMap(\.payload)
        #expect(payloads == Array(repeating: Array("in flight".utf8), count: 5))
    }

    /// A connection refused at the limit, a line too long and an idle timeout each log one info
    /// line naming the client. (The log only, nothing read back: one backend is enough.)
    @Test func perConnectionEventsAreLoggedAtInfoLevel() async throws {
        let dir = TemporaryDirectory()
        let (serve, port) = try startServe(.sqlite(path: dir.file("events.sqlite")),
                                           ["--max-connections", "2", "--max-line", "16", "--idle-timeout", "3s"])
        let overlong = try await LabConnection.connect(host: "127.0.0.1", port: port)
        let idle = try await LabConnection.connect(host: "127.0.0.1", port: port)
        for connection in [overlong, idle] {
            try await connection.send(Array("HELO\n".utf8))
            #expect(try await connection.readReply() == Array("100 OK\n".utf8))
        }
        let refused = try await LabConnection.connect(host: "127.0.0.1", port: port)
        #expect(try await refused.readReply().map { String(decoding: $0, as: UTF8.self) }?.hasPrefix("503 BUSY") == true)
        try serve.waitForStderr(containing: "refusing a connection from 127.0.0.1:")

        try await overlong.send(Array(String(repeating: "x", count: 40).utf8) + [0x0A])
        #expect(try await overlong.readReply()?.starts(with: Array("400 BCMD".utf8)) == true)
        try serve.waitForStderr(containing: "a line longer than 16 bytes (--max-line)")

        #expect(try await idle.readReply(timeout: .seconds(30)) == nil)
        let log = try serve.waitForStderr(containing: "(--idle-timeout)")

        serve.signal(SIGTERM)
        _ = try serve.wait(timeout: 30)
        for connection in [overlong, idle, refused] { await connection.close() }
        let lines = log.split(separator: "\n")
        let refusal = try #require(lines.first { $0.contains("refusing a connection") })
        #expect(refusal.contains("info") && refusal.hasSuffix("2 connections already open (--max-connections)"))
        let tooLong = try #require(lines.first { $0.contains("a line longer than") })
        #expect(tooLong.contains("info") && tooLong.contains("closing the connection from 127.0.0.1:"))
        let idleLine = try #require(lines.first { $0.contains("(--idle-timeout)") })
        #expect(idleLine.contains("info") && idleLine.contains("closing the connection from 127.0.0.1:") && idleLine.contains(": idle for "))
    }

    @Test(arguments: TestBackend.allCases)
    func killMinus9UnderLoadLosesNoAcknowledgedCommand(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir)
        let (serve, port) = try startServe(store)
        let acknowledged = AcknowledgedPayloads()
        let target = 2_000
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<20 {
                group.addTask {
                    guard let connection = try? await LabConnection.connect(host: "127.0.0.1", port: port) else { return }
                    for n in 0..<1_000 {
                        let payload = "client\(client)-\(n)"
                        guard (try? await connection.send(Array("DATA \(payload)\n".utf8))) != nil,
                              let reply = try? await connection.readReply(timeout: .seconds(5)),
                              reply == Array("300 DRCV\n".utf8) else { break }
                        if acknowledged.add(payload) >= target { serve.signal(SIGKILL) }
                    }
                    await connection.close()
                }
            }
        }
        _ = try? serve.wait(timeout: 30)
        if let path = store.sqlitePath { #expect(try RecordedRows.integrityCheck(path) == "ok") }
        let stored = Set(try await RecordedRows.messages(store).compactMap { $0.payload.map { String(decoding: $0, as: UTF8.self) } })
        let acked = acknowledged.all
        #expect(acked.count >= target)
        #expect(acked.subtracting(stored).isEmpty, "acknowledged but lost: \(acked.subtracting(stored).prefix(5))")
    }

    @Test(arguments: TestBackend.allCases)
    func netcatAndSocatGetTheLabsBytes(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir)
        let (serve, port) = try startServe(store)
        let script = "HELO\nDATA\nHello world\nUSER\nQUIT\n"
        let expected = "100 OK\n300 DRCV\n400 BCMD\r\nCommand-description: Bad command\r\n200 BYE\n"
        for tool in [["nc", "-N", "127.0.0.1", "\(port)"], ["socat", "-", "TCP:127.0.0.1:\(port)"]] {
            let output = try runTool(tool, input: script)
            #expect(output == expected, "\(tool[0]) got \(output.debugDescription)")
        }
        serve.signal(SIGTERM)
        #expect(try serve.wait(timeout: 30).failure == nil)
        #expect(try await RecordedRows.sessions(store).map(\.endReason) == ["quit", "quit"])
    }

    @Test(arguments: TestBackend.allCases)
    func theScriptedClientSendsLinesAndQuitsAtEndOfInput(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir)
        let (serve, port) = try startServe(store)
        let result = try WirelogProcess.run(["client", "127.0.0.1:\(port)"], input: Array("HELO\nDATA\nhello there\nBOGUS\n".utf8))
        #expect(result.failure == nil)
        #expect(result.stdoutText == "100 OK\n300 DRCV\n400 BCMD\nCommand-description: Bad command\n200 BYE\n")
        serve.signal(SIGTERM)
        _ = try serve.wait(timeout: 30)
        let commands = try await RecordedRows.messages(store).filter { $0.sender == "client" }
        // DATA and its payload leave in one write, as the lab's servers accept.
        #expect(commands.map(\.rawText) == ["HELO\n", "DATA hello there\n", "BOGUS\n", "QUIT\n"])
    }

    /// About the client (the recording is not read): one backend is enough.
    @Test func theClientWithoutATerminatorWorksThroughTheQuietPeriod() throws {
        let dir = TemporaryDirectory()
        let (serve, port) = try startServe(try TestBackend.sqlite.freshStore(in: dir), ["--quiet-period", "50ms"])
        let result = try WirelogProcess.run(["client", "127.0.0.1:\(port)", "--terminator", "none"], input: Array("HELO\nDATA\nhi\n".utf8))
        #expect(result.stdoutText == "100 OK\n300 DRCV\n200 BYE\n", "stderr: \(result.stderrText)")
        serve.signal(SIGTERM)
        _ = try serve.wait(timeout: 30)
    }

    @Test func theClientSaysClearlyWhenNobodyListens() throws {
        let port = try freePort()
        let result = try WirelogProcess.run(["client", "127.0.0.1:\(port)"], input: Array("HELO\n".utf8))
        #expect(result.status == 1)
        #expect(result.stderrText.contains("cannot connect to 127.0.0.1:\(port)"))
        #expect(result.stderrText.split(separator: "\n").count == 1)
    }

    /// SQLite only: a file that is not a SQLite database.
    @Test func serveRefusesADatabaseItCannotUse() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("notes.txt")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(String(repeating: "not sqlite\n", count: 100).utf8)))
        let result = try WirelogProcess.run(["serve", "--listen", "127.0.0.1:0", "--db", path])
        #expect(result.status == 2)
        #expect(result.stderrText.contains("not a SQLite database"))
    }
}

/// Runs a third-party tool with `input` on stdin and returns its stdout.
private func runTool(_ arguments: [String], input: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let stdin = Pipe()
    let stdout = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    // The server closes after QUIT, so the tool's output ends and the tool exits.
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: output, as: UTF8.self)
}

/// A port nobody listens on: bind to 0, read the port, close.
private func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
