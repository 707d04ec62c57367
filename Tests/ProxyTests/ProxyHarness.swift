import Foundation
import Logging
import NIOCore
import Proxy
import Backends
import Recording
import TestSupport

/// An in-process `ProxyServer` on 127.0.0.1 and an ephemeral port, recording into a real store.
struct ProxyHarness {
    let proxy: ProxyServer
    let port: Int
    let store: StoreLocation

    static func start(upstreamPort: Int, upstreamHost: String = "127.0.0.1", store: StoreLocation,
                      redaction: [RedactionRule] = [],
                      configure: (inout ProxyConfiguration) -> Void = { _ in }) async throws -> ProxyHarness {
        var configuration = ProxyConfiguration(upstreamHost: upstreamHost, upstreamPort: upstreamPort)
        configuration.listenHost = "127.0.0.1"
        configuration.listenPort = 0
        configuration.eventLoopThreads = 2
        configure(&configuration)
        var logger = Logger(label: "test.proxy")
        logger.logLevel = .error
        var settings = RecorderSettings()
        settings.redactionRules = redaction
        let sink = try await store.openRecorder(settings, logger: logger)
        let proxy = ProxyServer(configuration: configuration, sink: sink, logger: logger)
        let address = try await proxy.start()
        return ProxyHarness(proxy: proxy, port: address.port!, store: store)
    }

    /// Graceful shutdown: every session ended and committed.
    func stop() async {
        await proxy.shutdownGracefully(grace: .seconds(5))
    }
}

/// A direction's recorded bytes, in order.
func recordedStream(_ messages: [MessageRow], sender: String) -> [UInt8] {
    var bytes: [UInt8] = []
    for message in messages where message.sender == sender { bytes += message.raw }
    return bytes
}

/// Polls until `count` sessions have ended (the proxy keeps running), for at most `timeout`.
func endedSessions(_ store: StoreLocation, count: Int, timeout: TimeInterval = 20) async throws -> [SessionRow] {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let rows = (try? await RecordedRows.sessions(store)) ?? []
        let ended = rows.filter { $0.endReason != nil }
        if ended.count >= count { return ended }
        guard Date() < deadline else {
            throw SocketError.timedOut("\(count) ended sessions, have \(ended.count) of \(rows.count)")
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// A program nobody here wrote, run in the background (servers) or to completion (clients).
final class Program: @unchecked Sendable {
    let process = Process()
    private let output = Pipe()

    init(_ name: String, _ arguments: [String], directory: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [name] + arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Runs to completion and returns standard output; killed after `timeout`.
    static func run(_ name: String, _ arguments: [String], timeout: TimeInterval = 30) throws -> String {
        let program = try Program(name, arguments)
        let deadline = Date().addingTimeInterval(timeout)
        var output = Data()
        let handle = program.output.fileHandleForReading
        while true {
            var entry = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0, poll(&entry, 1, Int32(remaining * 1000)) == 1 else {
                program.stop()
                throw SocketError.timedOut("\(name) \(arguments)")
            }
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            output += chunk
        }
        program.process.waitUntilExit()
        guard program.process.terminationStatus == 0 else {
            throw SocketError.failed("\(name) \(arguments) exited with \(program.process.terminationStatus); status", 0)
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// SIGKILL: children of the test runner may inherit a signal mask that blocks SIGTERM.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
func waitUntilListening(port: Int, timeout: TimeInterval = 15) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if let socket = try? TestSocket.connect(port: port) {
            socket.close()
            return
        }
        guard Date() < deadline else { throw SocketError.timedOut("a server on port \(port)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
