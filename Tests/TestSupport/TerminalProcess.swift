import Foundation

/// A `wirelog` child on a pseudo-terminal, as a person runs it: standard input and output (and
/// standard error, with `stderrOnTerminal`) are the terminal; what it shows is read back.
public final class TerminalProcess: @unchecked Sendable {
    public let process = Process()
    private let master: Int32
    private var shown: [UInt8] = []

    public init(_ arguments: [String], environment: [String: String] = [:], stderrOnTerminal: Bool = false) throws {
        // posix_openpt and friends are not in Swift's Glibc module: the Linux ioctls they wrap,
        // TIOCSPTLCK (unlock the terminal) and TIOCGPTN (its number under /dev/pts).
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var unlock: CInt = 0, number: CInt = 0
        guard master >= 0, ioctl(master, 0x4004_5431, &unlock) == 0, ioctl(master, 0x8004_5430, &number) == 0 else {
            throw ProcessError.timedOut("no pseudo-terminal: \(String(cString: strerror(errno)))")
        }
        let terminal = try FileHandle(forUpdating: URL(fileURLWithPath: "/dev/pts/\(number)"))
        process.executableURL = URL(fileURLWithPath: WirelogBinary.path)
        process.arguments = arguments
        var inherited = ProcessInfo.processInfo.environment
        inherited.removeValue(forKey: "WIRELOG_DB")
        process.environment = inherited.merging(environment) { $1 }
        process.standardInput = terminal
        process.standardOutput = stderrOnTerminal ? Pipe() : terminal
        process.standardError = stderrOnTerminal ? terminal : Pipe()
        try process.run()
        // Only the child holds the terminal now: its exit ends what the master reads.
        try terminal.close()
    }

    /// Types `text` (`\u{4}` is Ctrl-D at the start of a line: end of input).
    public func type(_ text: String) { type(Array(text.utf8)) }

    /// Types `bytes` as they are (UTF-8 or not).
    public func type(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
    }

    /// Reads the screen until `text` is on it or `timeout` passes; returns all shown so far.
    @discardableResult
    public func waitFor(_ text: String, timeout: TimeInterval = 30) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let screen = String(decoding: shown, as: UTF8.self)
            if screen.contains(text) { return screen }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw ProcessError.timedOut("waiting for '\(text)' on the terminal; it shows: \(screen.debugDescription)") }
            var poller = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(min(left, 1) * 1_000)) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let count = read(master, &buffer, buffer.count)
            // EIO: the child closed the terminal (it exited).
            guard count > 0 else { throw ProcessError.timedOut("the terminal closed before '\(text)'; it showed: \(screen.debugDescription)") }
            shown += buffer[..<count]
        }
    }

    public func wait(timeout: TimeInterval = 30) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            throw ProcessError.timedOut("wirelog \(process.arguments ?? []) did not exit")
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        close(master)
    }
}
