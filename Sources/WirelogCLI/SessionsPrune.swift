import ArgumentParser
import Foundation
import Presentation
import Recording

struct SessionsPrune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete old sessions and their messages.",
        discussion: """
            Removes every ended session that started before the cutoff, with its messages, in one \
            transaction (sessions still open are kept). The space becomes free pages inside the \
            file; --vacuum rewrites the file so it returns to the system (needs as much free disk \
            as the remaining data and briefly blocks recording).

            Examples:
              wirelog sessions prune --older-than 30d
              wirelog sessions prune --before 2026-11-01 --vacuum
            """)

    @OptionGroup var database: DatabaseOptions

    @Option(help: ArgumentHelp("Delete sessions that started before this time (ISO 8601 or a time ago).", valueName: "time"))
    var before: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Delete sessions that started longer ago than this (30d, 12h).", valueName: "age"))
    var olderThan: TimeSpan?

    @Flag(help: "Rewrite the file afterwards to give the freed space back to the system.")
    var vacuum = false

    @Flag(help: "Show what would be removed; delete nothing.")
    var dryRun = false

    @OptionGroup var confirmation: DeletionConfirmation

    func validate() throws {
        guard (before == nil) != (olderThan == nil) else {
            throw ValidationError("give exactly one of --before DATE or --older-than AGE")
        }
    }

    func run() async throws {
        try await withStore(database, .modify) { store in
            let now = WallClock.nowMicros()
            let cutoff = try before.map { try TimeArgument.parse($0, nowMicros: now) } ?? (now - (olderThan?.microseconds ?? 0))
            if dryRun || confirmation.willAsk {
                let old = try await store.list(SessionFilter(untilMicros: cutoff), limit: Int(Int32.max))
                let ended = old.filter { $0.endedMicros != nil }
                let what = "\(counted(ended.count, "session")) and \(counted(ended.reduce(0) { $0 + $1.messageCount }, "message")) that started before \(RelativeTime.localTimestamp(cutoff))"
                if dryRun {
                    Output.line("would remove \(what); nothing was deleted (--dry-run)")
                    if old.count > ended.count {
                        Output.line("would keep \(counted(old.count - ended.count, "session")) that started before then but \(old.count - ended.count == 1 ? "is" : "are") still open")
                    }
                    return
                }
                guard ended.isEmpty || confirmation.confirm(what) else {
                    Output.line("nothing was deleted")
                    throw ExitCode.notConfirmed
                }
            }
            let result = try await store.prune(startedBefore: cutoff, compact: vacuum)
            Output.line("removed \(counted(result.sessions, "session")) and \(counted(result.messages, "message")) that started before \(RelativeTime.localTimestamp(cutoff))")
            if result.openSessionsKept > 0 {
                Output.line("kept \(counted(result.openSessionsKept, "session")) that started before then but \(result.openSessionsKept == 1 ? "is" : "are") still open")
            }
            if vacuum {
                Output.line("database size \(RelativeTime.bytes(result.sizeBefore)) → \(RelativeTime.bytes(result.sizeAfter)) (reclaimed \(RelativeTime.bytes(max(0, result.sizeBefore - result.sizeAfter))))")
            } else {
                Output.line("freed \(RelativeTime.bytes(result.freedBytes)) inside the file (reused by new recordings; --vacuum gives it back to the system)")
            }
        }
    }
}
