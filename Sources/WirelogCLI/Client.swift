import ArgumentParser
import Client
import Foundation
import LabProtocol
import NIOCore
import Presentation
import WirelogTLS

struct Client: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The lab's client: send commands, print each reply whole.",
        discussion: """
            On a terminal it prompts for commands; after DATA it asks for the data line. \
            With standard input not a terminal it reads one command per line (after DATA, \
            the next line is the payload). DATA and its payload leave in one write as \
            'DATA <payload>'. Each line is sent as the bytes it is (UTF-8 or not), its line end \
            replaced by --terminator. At end of input (Ctrl-D), at either prompt, it sends QUIT (a DATA \
            waiting for its payload is not sent).
            """)

    enum Terminator: String, ExpressibleByArgument, CaseIterable {
        case lf, crlf, none

        var bytes: [UInt8] {
            switch self {
            case .lf: [0x0A]
            case .crlf: [0x0D, 0x0A]
            case .none: []
            }
        }
    }

    static let defaultServer = HostPort(host: "127.0.0.1", port: 7070)

    @Argument(help: "Server to connect to (HOST:PORT). (default: \(defaultServer))", transform: HostPort.parse)
    var server = defaultServer

    @Option(help: "What ends each command on the wire: lf, crlf, or none (as the lab's reference client).")
    var terminator: Terminator = .lf

    @Option(parsing: .unconditional, help: "How long the server may stay silent before a reply is whole.")
    var timeout = TimeSpan(microseconds: 10_000_000)

    @OptionGroup(title: "TLS") var tls: ClientTLSOptions

    func run() async throws {
        let connection: LabConnection
        let clientTLS = try tls.clientTLS()
        do {
            connection = try await LabConnection.connect(host: server.host, port: server.port, timeout: .seconds(5), tls: clientTLS)
        } catch let error as TLSHandshakeError {
            printError("\(server): \(error)")
            throw ExitCode(1)
        } catch {
            // The hint only fits a refusal: a name that does not resolve is a typo, not a server that is down.
            let hint = NetworkErrorText.isRefusal(error) ? " (is wirelog serve running there?)" : ""
            printError("cannot connect to \(server): \(NetworkErrorText.reason(error))\(hint)")
            throw ExitCode(1)
        }

        do {
            try await converse(over: connection)
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    private func converse(over connection: LabConnection) async throws {
        let interactive = isatty(STDIN_FILENO) == 1
        var input = InputLines()
        /// The next input line; nil at end of input (Ctrl-D), after which the terminal gets its
        /// line end so that what follows does not run on after the prompt.
        func prompt(_ text: String) -> [UInt8]? {
            guard interactive else { return input.next() }
            Output.write(text)
            Output.flush()
            let line = input.next()
            if line == nil { Output.line() }
            return line
        }

        let quit = Array("QUIT".utf8)
        while true {
            // End of input, even in the middle of a DATA, ends the session with QUIT.
            var command = prompt("Command: ") ?? quit
            if InputLines.isWord(command, "DATA") {
                command = prompt("Input data to send: ").map { Array("DATA ".utf8) + $0 } ?? quit
            }
            let isQuit = InputLines.isWord(command, "QUIT")
            let reply: [UInt8]?
            do {
                try await connection.send(command + terminator.bytes)
                reply = try await connection.readReply(timeout: .microseconds(timeout.microseconds))
            } catch {
                printError("\(server): \(NetworkErrorText.reason(error))")
                throw ExitCode(1)
            }
            guard let reply else {
                if isQuit { return }
                printError("\(server) closed the connection")
                throw ExitCode(1)
            }
            printReply(reply)
            if isQuit { return }
        }
    }

    /// Each reply line on its own output line, control bytes escaped.
    private func printReply(_ reply: [UInt8]) {
        var lines = reply.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        for line in lines {
            let content = line.last == UInt8(ascii: "\r") ? line.dropLast() : line
            Output.line(Escaping.escape(content))
        }
        Output.flush()
    }
}

/// Standard input's lines as the bytes they are: `readLine` decodes them as UTF-8 and replaces
/// what is not, and the client sends exactly what it is given.
struct InputLines {
    private var buffer: [UInt8] = []
    private var atEnd = false

    /// The next line without its LF (or CRLF), as `readLine` cuts them; nil at end of input.
    mutating func next() -> [UInt8]? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<newline])
                buffer.removeFirst(newline + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return line
            }
            if atEnd {
                guard !buffer.isEmpty else { return nil }
                defer { buffer = [] }
                return buffer
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = read(STDIN_FILENO, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            if count > 0 { buffer += chunk[..<count] } else { atEnd = true }
        }
    }

    /// Whether `line` is `word` (upper case ASCII) in any case, with blanks around it.
    static func isWord(_ line: [UInt8], _ word: String) -> Bool {
        let blank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        guard let first = line.firstIndex(where: { !blank($0) }), let last = line.lastIndex(where: { !blank($0) }) else { return false }
        return line[first...last].map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }.elementsEqual(word.utf8)
    }
}
