import ArgumentParser
import Backends

/// `wirelog`: record, inspect and replay line-protocol traffic.
public struct Wirelog: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "wirelog",
        abstract: "Record, inspect and replay line-protocol TCP traffic.",
        discussion: """
            Recordings go to a SQLite file: --db PATH, or WIRELOG_DB, or ./wirelog.sqlite.
            """,
        version: "wirelog 0.1.0 (commit \(buildCommit)), SQLite \(StoreLocation.sqliteVersion)",
        subcommands: [Serve.self, Client.self, ProxyCommand.self, Sessions.self, Web.self, ReplayCommand.self, MockCommand.self, BenchCommand.self,
                      Status.self]
    )

    public init() {}
}
