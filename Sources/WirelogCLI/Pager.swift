import Foundation

/// Long output through `$PAGER` when standard output is a terminal, as git does (default
/// `less -FRX`: it quits at once when the text fits one screen, keeps escapes and the screen);
/// plain output into a pipe or a file. `PAGER=` or `PAGER=cat` turns it off.
struct Pager {
    private let process: Process
    private let terminalOutput: Int32

    static let defaultCommand = "less -FRX"

    /// Starts the pager and points standard output at it; nil when there is no terminal to page on
    /// or the pager cannot start (then the output goes out plain).
    static func startOnTerminal() -> Pager? {
        guard isatty(STDOUT_FILENO) == 1 else { return nil }
        let command = ProcessInfo.processInfo.environment["PAGER"] ?? defaultCommand
        guard !["", "cat"].contains(command.trimmingCharacters(in: .whitespaces)) else { return nil }
        let pipe = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.standardInput = pipe
        do {
            try process.run()
        } catch {
            return nil
        }
        try? pipe.fileHandleForReading.close()
        Output.flush()
        let terminalOutput = dup(STDOUT_FILENO)
        dup2(pipe.fileHandleForWriting.fileDescriptor, STDOUT_FILENO)
        try? pipe.fileHandleForWriting.close()
        return Pager(process: process, terminalOutput: terminalOutput)
    }

    /// Ends the pager's input and waits until the person has quit it.
    func finish() {
        Output.flush()
        // Standard output back on the terminal closes the last write end: the pager sees the end.
        dup2(terminalOutput, STDOUT_FILENO)
        close(terminalOutput)
        process.waitUntilExit()
    }
}
