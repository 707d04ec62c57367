import ArgumentParser
import Presentation
import Recording

struct SessionsDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete sessions and their messages for good.",
        discussion: """
            Choose sessions by id, by the filters of sessions list, or --all; sessions still being \
            recorded are kept. --dry-run lists what would go and deletes nothing. On SQLite the \
            deleted rows are overwritten with zeros and the WAL is emptied, so their bytes are gone \
            from the files; on PostgreSQL the rows are deleted (docs/QUERY.md says what VACUUM \
            means for the disk there).

            Examples:
              wirelog sessions delete 42 43
              wirelog sessions delete --client 10.0.0.7 --since 1d --dry-run
            """)

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var choice: SessionChoiceOptions

    @Flag(help: "Show what would be deleted; delete nothing.")
    var dryRun = false

    @OptionGroup var confirmation: DeletionConfirmation

    func run() async throws {
        try await withStore(database, .modify) { store in
            let chosen = try await choice.sessions(in: store)
            let ended = chosen.filter { $0.endedMicros != nil }
            let open = chosen.count - ended.count
            let messages = ended.reduce(0) { $0 + $1.messageCount }
            if dryRun {
                if !ended.isEmpty { Output.line(SessionsList.table(ended)) }
                Output.line("would delete \(counted(ended.count, "session")) and \(counted(messages, "message")); nothing was deleted (--dry-run)")
            } else {
                guard ended.isEmpty || confirmation.confirm("\(counted(ended.count, "session")) and \(counted(messages, "message"))") else {
                    Output.line("nothing was deleted")
                    throw ExitCode.notConfirmed
                }
                let deleted = ended.isEmpty ? 0 : try await store.delete(sessions: ended.map(\.id))
                Output.line("deleted \(counted(deleted, "session")) and \(counted(messages, "message"))")
            }
            if open > 0 {
                Output.line("kept \(counted(open, "session")) still being recorded")
            }
        }
    }
}
