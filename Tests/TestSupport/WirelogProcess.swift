import Foundation

/// The built `wirelog` executable: `$WIRELOG_BIN`, or the one beside the test bundle.
public enum WirelogBinary {
    public static var path: String {
        if let fromEnvironment = ProcessInfo.processInfo.environment["WIRELOG_BIN"] { return fromEnvironment }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // On Linux the test runner is .build/<triple>/debug/<package>PackageTests.xctest.
        if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("wirelog").path
    }
}

public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdout: [UInt8]
    public let stderr: [UInt8]

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }

    /// nil after exit status 0; otherwise the status and the start of standard error, so that
    /// `#expect(result.failure == nil)` says why (a crash's message comes first).
    public var failure: String? {
        status == 0 ? nil : "exit status \(status): \(stderrText.prefix(4_000))"
    }
}

public enum ProcessError: Error, CustomStringConvertible {
    case timedOut(String)
    case noListenAddress(String)

    public var description: String {
        switch self {
        case .timedOut(let what): "timed out: \(what)"
        case .noListenAddress(let log): "the process never said where it listens; its log:\n\(log)"
        }
    }
}

/// A `wirelog` child process with its output captured.
public final class WirelogProcess: @unchecked Sendable {
    public let process = Process()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let stdinPipe = Pipe()
    private let output = OutputCollector()

    /// Starts `wirelog arguments…` (or another `executable`, e.g. a shell that sets limits first).
    public init(_ arguments: [String], environment: [String: String] = [:], executable: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable ?? WirelogBinary.path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "WIRELOG_DB")
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        process.standardInput = stdinPipe
        let output = self.output
        stdoutPipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData, toStdout: true) }
        stderrPipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData, toStdout: false) }
        try process.run()
    }

    /// Runs `wirelog arguments…` to completion with `input` on stdin.
    public static func run(_ arguments: [String], input: [UInt8] = [], environment: [String: String] = [:],
                           timeout: TimeInterval = 60) throws -> ProcessResult {
        let child = try WirelogProcess(arguments, environment: environment)
        child.write(input)
        child.closeInput()
        return try child.wait(timeout: timeout)
    }

    public func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        stdinPipe.fileHandleForWriting.write(Data(bytes))
    }

    public func closeInput() { try? stdinPipe.fileHandleForWriting.close() }

    public var stderrText: String { output.snapshot().stderr }

    /// What it wrote to standard output so far.
    public var stdoutText: String { output.snapshot().stdout }

    /// Waits until the log names the address the process listens on (`wirelog serve listening on
    /// HOST:PORT`, and the proxy's and mock's lines): its port. Not any "listening on": another
    /// server in the process (the web viewer's) may say so too, and first.
    public func listeningPort(timeout: TimeInterval = 30) throws -> Int {
        let pattern = #"wirelog (serve|proxy|mock) listening on \S+:(\d+)"#
        let (log, found) = waitForOutput(stdout: false, timeout: timeout) { $0.range(of: pattern, options: .regularExpression) != nil }
        guard found, let range = log.range(of: pattern, options: .regularExpression),
              let port = Int(log[range].split(separator: ":").last ?? "") else {
            throw ProcessError.noListenAddress(log)
        }
        return port
    }

    /// Waits until standard error contains `text`; returns all of it.
    @discardableResult
    public func waitForStderr(containing text: String, timeout: TimeInterval = 30) throws -> String {
        let (log, found) = waitForOutput(stdout: false, timeout: timeout) { $0.contains(text) }
        guard found else { throw ProcessError.timedOut("waiting for '\(text)'; stderr: \(log)") }
        return log
    }

    /// Waits until standard output contains `text`; returns all of it.
    @discardableResult
    public func waitForStdout(containing text: String, timeout: TimeInterval = 30) throws -> String {
        try waitForStdout("'\(text)'", timeout: timeout) { $0.contains(text) }
    }

    /// Waits until `done` holds for standard output (`what` says what is awaited); returns all of it.
    @discardableResult
    public func waitForStdout(_ what: String, timeout: TimeInterval = 30, until done: (String) -> Bool) throws -> String {
        let (output, found) = waitForOutput(stdout: true, timeout: timeout, until: done)
        guard found else { throw ProcessError.timedOut("waiting for \(what) on stdout: \(output)\nstderr: \(stderrText)") }
        return output
    }

    private func waitForStderr(timeout: TimeInterval, until done: (String) -> Bool) -> (log: String, found: Bool) {
        waitForOutput(stdout: false, timeout: timeout, until: done)
    }

    /// Waits, woken by new output rather than polling, until `done` holds for one output stream,
    /// the process exits or `timeout` passes.
    private func waitForOutput(stdout: Bool, timeout: TimeInterval,
                               until done: (String) -> Bool) -> (log: String, found: Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let snapshot = output.snapshot()
            let log = stdout ? snapshot.stdout : snapshot.stderr
            if done(log) { return (log, true) }
            guard process.isRunning, Date() < deadline else { return (log, false) }
            // Output wakes this at once; the slice only bounds noticing that the process exited.
            output.waitForMore(until: min(deadline, Date().addingTimeInterval(0.2)))
        }
    }

    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to exit; kills it and throws if it takes longer than `timeout`.
    @discardableResult
    public func wait(timeout: TimeInterval = 60) throws -> ProcessResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            output.waitForMore(until: min(deadline, Date().addingTimeInterval(0.05)))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw ProcessError.timedOut("wirelog \(process.arguments ?? []) did not exit; stderr:\n\(output.snapshot().stderr)")
        }
        process.waitUntilExit()
        // Drain what the pipes still hold.
        stdoutPipe.fileHandleForReading.readabilityHandler = nil
        stderrPipe.fileHandleForReading.readabilityHandler = nil
        output.append(stdoutPipe.fileHandleForReading.readDataToEndOfFile(), toStdout: true)
        output.append(stderrPipe.fileHandleForReading.readDataToEndOfFile(), toStdout: false)
        let captured = output.bytes()
        return ProcessResult(status: process.terminationStatus, stdout: captured.stdout, stderr: captured.stderr)
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Output of a child process, appended from pipe handlers, read by the test.
final class OutputCollector: @unchecked Sendable {
    private let condition = NSCondition()
    private var stdout: [UInt8] = []
    private var stderr: [UInt8] = []

    func append(_ data: Data, toStdout: Bool) {
        guard !data.isEmpty else { return }
        condition.lock()
        if toStdout { stdout += data } else { stderr += data }
        condition.broadcast()
        condition.unlock()
    }

    func snapshot() -> (stdout: String, stderr: String) {
        let (out, err) = bytes()
        return (String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    func bytes() -> (stdout: [UInt8], stderr: [UInt8]) {
        condition.lock()
        defer { condition.unlock() }
        return (stdout, stderr)
    }

    /// Blocks until something new arrives or `deadline` passes.
    func waitForMore(until deadline: Date) {
        condition.lock()
        _ = condition.wait(until: deadline)
        condition.unlock()
    }
}
