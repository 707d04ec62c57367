import ArgumentParser
import Foundation
import Recording
import SessionFormats

struct SessionsExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write sessions as JSON, NDJSON, pcap or HAR.",
        discussion: """
            json: one array of session documents, each with its messages (bytes base64). \
            ndjson: one line per session followed by one line per message. pcap: synthetic \
            Ethernet/IP/TCP packets carrying exactly the recorded bytes at the recorded times, \
            one TCP stream per session, for Wireshark or tshark. har: HAR 1.2, one entry per HTTP \
            exchange of the sessions decoded as http (headers, bodies, timings), for browsers' \
            developer tools and HAR viewers; other sessions add nothing.

            Examples:
              wirelog sessions export 42 --format json -o session42.json
              wirelog sessions export 42 43 --format ndjson | jq -c 'select(.type == "message")'
              wirelog sessions export 42 --format pcap -o s42.pcap && tshark -r s42.pcap -qz follow,tcp,ascii,0
              wirelog sessions export 42 --format json -o session42.json --force
              wirelog sessions export --recorder ci-7 --since 1d --format ndjson -o today.ndjson
              wirelog sessions export --all --format pcap -o everything.pcap
              wirelog sessions export --decoding http --since 1h --format har -o api.har

            Without ids, the filters of sessions list choose the sessions (oldest first); --all takes every one.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case json, ndjson, pcap, har

        var exported: ExportFormat {
            switch self {
            case .json: .json
            case .ndjson: .ndjson
            case .pcap: .pcap
            case .har: .har
            }
        }
    }

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var choice: SessionChoiceOptions

    @Option(help: "json, ndjson, pcap or har.")
    var format: Format = .json

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to this new file (mode 0600) instead of standard output.", valueName: "file"))
    var output: String?

    @Flag(help: "Let -o replace a file that exists (it becomes mode 0600).")
    var force = false

    func run() async throws {
        try await withStore(database) { store in
            // Every id must exist before anything is written.
            let sessions = try await choice.sessions(in: store)
            if format == .pcap && output == nil && isatty(STDOUT_FILENO) == 1 {
                throw QueryError.usage("pcap is binary: write it to a file with -o FILE or redirect standard output")
            }
            let sink = try ExportSink(path: output, replacing: force)
            try await SessionExporter(store: store).write(sessions, as: format.exported) { try sink.write($0) }
            try sink.close()
        }
    }
}

/// Standard output or a file, written with plain write(2) so binary output is exact.
final class ExportSink {
    private let descriptor: Int32
    private let path: String?

    /// A file is created mode 0600 (it holds recorded traffic); an existing one is refused
    /// unless `replacing`, and then made 0600 too.
    init(path: String?, replacing: Bool) throws {
        self.path = path
        guard let path else {
            Output.flush()
            descriptor = STDOUT_FILENO
            return
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (replacing ? O_TRUNC : O_EXCL), 0o600)
        if fd < 0 && errno == EEXIST {
            throw QueryError.usage("\(path) exists; pass --force to replace it, or choose another -o")
        }
        guard fd >= 0, fchmod(fd, 0o600) == 0 else {
            let reason = String(cString: strerror(errno))
            if fd >= 0 { Foundation.close(fd) }
            throw QueryError.usage("cannot write \(path): \(reason)")
        }
        descriptor = fd
    }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw QueryError.usage("cannot write \(path ?? "standard output"): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    func close() throws {
        guard path != nil else { return }
        if Foundation.close(descriptor) != 0 {
            throw QueryError.usage("cannot finish writing \(path ?? ""): \(String(cString: strerror(errno)))")
        }
    }
}
