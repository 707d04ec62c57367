import ArgumentParser
import Foundation
import Presentation
import Recording
import SessionFormats

struct SessionsImport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Store a HAR file's exchanges as HTTP sessions (kind import), for mock, show, replay and export.",
        discussion: """
            Traffic saved from a browser's developer tools (Save all as HAR), or written by \
            sessions export --format har, becomes HTTP sessions of kind import: each entry a \
            request and its response, decoded as the proxy decodes HTTP, so wirelog mock answers \
            them. Entries of one connection share a session.

            Example:
              wirelog sessions import --format har api.har && wirelog mock --kind import --listen 127.0.0.1:8080
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case har
    }

    @OptionGroup var database: DatabaseOptions

    @Option(help: "The file's format: har (HAR 1.2).")
    var format: Format = .har

    @Argument(help: "The file to import.")
    var file: String

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            printError("cannot read \(file)")
            throw ExitCode(2)
        }
        let sessions: [CompleteSession]
        do {
            sessions = try HARReader.sessions(from: data, source: file)
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        let ids = try await reportingErrors {
            try await database.location.withStore(.create) { store in
                try await store.write(sessions.map { (session: $0, origin: String?.none) })
            }
        }.compactMap { $0 }
        let exchanges = sessions.map { $0.messages.count { $0.exchange != nil } }.reduce(0, +)
        let range = ids.isEmpty ? "" : ids.count == 1 ? " \(ids[0])" : " \(ids.first!)–\(ids.last!)"
        print("imported \(counted(exchanges, "exchange")) from \(file) as session\(ids.count == 1 ? "" : "s")\(range) (kind import)")
    }
}
