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
            'DATA <payload>'. At end of input (Ctrl-D), at either prompt, it sends QUIT (a DATA \
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

    @Option(help: "How long the server may stay silent before a reply is whole.")
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
            printError("cannot connect to \(server): \(NetworkErrorText.reason(error)) (is wirelog serve running there?)")
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
        /// The next input line; nil at end of input (Ctrl-D), after which the terminal gets its
        /// line end so that what follows does not run on after the prompt.
        func prompt(_ text: String) -> String? {
            guard interactive else { return readLine(strippingNewline: true) }
            Output.write(text)
            Output.flush()
            let line = readLine(strippingNewline: true)
            if line == nil { Output.line() }
            return line
        }

        while true {
            // End of input, even in the middle of a DATA, ends the session with QUIT.
            var command = prompt("Command: ") ?? "QUIT"
            if command.trimmingCharacters(in: .whitespaces).uppercased() == "DATA" {
                command = prompt("Input data to send: ").map { "DATA " + $0 } ?? "QUIT"
            }
            let isQuit = command.trimmingCharacters(in: .whitespaces).uppercased() == "QUIT"
            try await connection.send(Array(command.utf8) + terminator.bytes)
            let reply: [UInt8]?
            do {
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
