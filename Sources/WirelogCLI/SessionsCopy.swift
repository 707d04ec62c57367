import ArgumentParser
import Backends
import Foundation
import Presentation
import Recording

struct SessionsCopy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy sessions from one store to another (a SQLite file, a PostgreSQL database).",
        discussion: """
            Ships recordings between stores: a laptop's SQLite file into the team's PostgreSQL, or \
            back. Each copied session remembers where it came from, so running the same copy again \
            copies nothing twice. Session ids may differ in the destination; a replay keeps its link \
            to the session it replays when that session was copied too. Sessions still being \
            recorded are left for a later run. The filters are those of sessions list.

            Examples:
              wirelog sessions copy --from wirelog.sqlite --to postgres://wirelog@db.example/wirelog
              wirelog sessions copy --from postgres://wirelog@db/wirelog --to mine.sqlite --recorder ci-7 --since 1d
            """)

    @Option(help: ArgumentHelp("The store to copy from: a SQLite file or a postgres:// URL.", valueName: "path|url"))
    var from: String

    @Option(help: ArgumentHelp("The store to copy into (created if it does not exist).", valueName: "path|url"))
    var to: String

    @OptionGroup var filters: SessionFilterOptions

    @Argument(help: "Only these session ids (of the source).")
    var ids: [Int64] = []

    /// Sessions per transaction in the destination.
    private static let batchSize = 100

    func validate() throws {
        for (text, option) in [(from, "--from"), (to, "--to")] {
            do {
                _ = try StoreLocation(text, option: option)
            } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
        }
        if from == to { throw ValidationError("--from and --to name the same store") }
        if filters.reason == SessionFilter.openReason {
            throw ValidationError("open sessions are not copied (they are still being recorded)")
        }
    }

    func run() async throws {
        let source = try StoreLocation(from, option: "--from")
        let destinationLocation = try StoreLocation(to, option: "--to")
        try await reportingErrors {
            try await source.withStore(.read) { source in
                try await destinationLocation.withStore(.create) { destination in
                    try await copy(from: source, to: destination, named: "\(destinationLocation)")
                }
            }
        }
    }

    private func copy(from source: any RecordingStore, to destination: any RecordingStore, named name: String) async throws {
        let sourceIdentity = try await source.identity()
        var chosen = try await source.list(try filters.filter(), limit: Int(Int32.max))
        if !ids.isEmpty {
            let wanted = Set(ids)
            chosen = chosen.filter { wanted.contains($0.id) }
        }
        // Oldest first: a replay is copied after the session it replays.
        chosen.reverse()
        let open = chosen.filter { $0.endedMicros == nil }.count
        chosen.removeAll { $0.endedMicros == nil }

        let showProgress = isatty(STDERR_FILENO) == 1
        var copiedIDs: [Int64: Int64] = [:]
        var counts = (copied: 0, skipped: 0, messages: 0, done: 0)
        var pending: [(session: CompleteSession, origin: String?)] = []
        func flush() async throws {
            let written = try await destination.write(pending)
            for (write, id) in zip(pending, written) {
                if let id, let sourceID = write.session.id {
                    copiedIDs[sourceID] = id
                    counts.copied += 1
                    counts.messages += write.session.messages.count
                } else {
                    counts.skipped += 1
                }
            }
            counts.done += pending.count
            pending.removeAll()
            if showProgress { ProgressLine.show("copied \(counts.done) of \(chosen.count) sessions") }
        }
        for summary in chosen {
            guard var session = try await source.completeSession(summary.id) else { continue }
            if let original = session.info.replayOf {
                // The session it replays must be written first to know its id there.
                if pending.contains(where: { $0.session.id == original }) { try await flush() }
                let copied = copiedIDs[original]
                session.info.replayOf = copied == nil ? try await destination.session(origin: "\(sourceIdentity)/\(original)") : copied
            }
            pending.append((session, "\(sourceIdentity)/\(summary.id)"))
            if pending.count == Self.batchSize { try await flush() }
        }
        if !pending.isEmpty { try await flush() }
        if showProgress { ProgressLine.clear() }
        var report = counts.copied == 0 ? "nothing new to copy to \(name)"
            : "copied \(counted(counts.copied, "session")) (\(counted(counts.messages, "message"))) to \(name)"
        if counts.skipped > 0 { report += "; \(counts.skipped) already there" }
        if open > 0 { report += "; \(counted(open, "open session")) left for a later run" }
        Output.line(report)
    }
}
