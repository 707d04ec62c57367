import ArgumentParser
import Presentation
import Recording
import SessionFormats

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What a store is and holds: kind, schema, size on disk, sessions, open recorders.",
        discussion: """
            Size on disk is the SQLite file, its WAL and its segment files, or the PostgreSQL \
            database as pg_database_size counts it. Open sessions belong to a recorder that is \
            recording now, or that died and has not been followed by another of its name.

            Examples:
              wirelog status --db lab.sqlite
              wirelog status --db postgres://wirelog@db/wirelog --json
            """)

    @OptionGroup var database: DatabaseOptions

    @Flag(help: "One JSON object instead of text.")
    var json = false

    func run() async throws {
        let location = try database.location
        try await withStore(database) { store in
            let status = try await store.status()
            if json {
                Output.line(try JSONOutput.line(StatusJSON(location: location.description, status: status)))
                return
            }
            let parts = status.parts.map { "\($0.name) \(RelativeTime.bytes($0.bytes))" }.joined(separator: ", ")
            Output.line("store      \(status.kind) at \(location), schema version \(status.schemaVersion)")
            Output.line("on disk    \(RelativeTime.bytes(status.bytesOnDisk)) (\(parts))")
            Output.line("sessions   \(status.sessions), \(status.openSessions) open")
            if let oldest = status.oldestStartedMicros, let newest = status.newestStartedMicros {
                Output.line("started    oldest \(RelativeTime.localTimestamp(oldest)), newest \(RelativeTime.localTimestamp(newest))")
            }
            for recorder in status.recorders {
                Output.line("recorder   \(recorder.name): \(counted(recorder.openSessions, "open session"))")
            }
        }
    }
}

/// `status --json`: the store's facts, with where it is and its total size.
private struct StatusJSON: Encodable {
    let location: String
    let status: StoreStatus

    private enum CodingKeys: String, CodingKey {
        case location, bytesOnDisk
    }

    func encode(to encoder: any Encoder) throws {
        try status.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(location, forKey: .location)
        try container.encode(status.bytesOnDisk, forKey: .bytesOnDisk)
    }
}
