import ArgumentParser

struct Sessions: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "List, show, search, export, follow, prune, delete and copy recorded sessions.",
        discussion: """
            Read commands open the database read-only, so they can run while wirelog serve or \
            wirelog proxy records into it. Errors are one line on standard error; the exit status \
            is 1 when a session id does not exist and 2 for every other error.

            Examples:
              wirelog sessions list --since 2h --client 10.0.0.7
              wirelog sessions show 42
              wirelog sessions search 'DATA secret' --since 1d
              wirelog sessions export 42 --format pcap -o session42.pcap
            """,
        subcommands: [SessionsList.self, SessionsShow.self, SessionsSearch.self, SessionsStats.self,
                      SessionsExport.self, SessionsImport.self, SessionsFollow.self, SessionsPrune.self, SessionsDelete.self, SessionsCopy.self],
        defaultSubcommand: SessionsList.self)
}
