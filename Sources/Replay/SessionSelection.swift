import Foundation
import Store

/// Which recorded sessions to replay: ids, the filters of `wirelog sessions list`, or both
/// (a session must pass all).
public struct SessionSelection: Sendable, Equatable {
    public var ids: [Int64] = []
    public var filter = SessionFilter()
    /// Keep only the most recent this many.
    public var limit: Int?

    public init() {}

    public var hasFilters: Bool { filter != SessionFilter() || limit != nil }

    /// Session ids in replay order: as given, else oldest first.
    /// Throws `SelectionError` when a named session does not exist or nothing matches.
    public func resolve(in database: Database) throws -> [Int64] {
        func matching() throws -> [Int64] {
            try SessionQueries(database: database).list(filter, limit: limit ?? Int(Int32.max)).map(\.id)
        }
        guard !ids.isEmpty else {
            let found = try matching()
            guard !found.isEmpty else { throw SelectionError.nothingMatches }
            return found.reversed()
        }
        let missing = try ids.filter { try database.scalarInt("SELECT 1 FROM sessions WHERE id = ?", .integer($0)) == nil }
        guard missing.isEmpty else { throw SelectionError.noSuchSessions(missing) }
        guard hasFilters else { return ids }
        let allowed = Set(try matching())
        let chosen = ids.filter(allowed.contains)
        guard !chosen.isEmpty else { throw SelectionError.nothingMatches }
        return chosen
    }
}

public enum SelectionError: Error, CustomStringConvertible, Equatable {
    case noSuchSessions([Int64])
    case nothingMatches

    public var description: String {
        switch self {
        case .noSuchSessions(let ids):
            let list = ids.map(String.init).joined(separator: ", ")
            return ids.count == 1 ? "no session \(list) in the database" : "no sessions \(list) in the database"
        case .nothingMatches:
            return "no recorded session matches; check the ids and filters (wirelog sessions list shows what is recorded)"
        }
    }
}

/// Reads recorded sessions for replay. One connection, shared by the replay tasks in turn.
public final class RecordedSessionReader: @unchecked Sendable {
    private let lock = NSLock()
    // Guarded by `lock`: a `Database` is used by one thread at a time.
    private let database: Database

    /// Takes ownership of `database`, opened with `Store.openForReading`.
    public init(database: Database) {
        self.database = database
    }

    public func resolve(_ selection: SessionSelection) throws -> [Int64] {
        try lock.withLock { try selection.resolve(in: database) }
    }

    /// The session with its messages, or nil when there is no such session.
    public func session(_ id: Int64) throws -> RecordedSession? {
        try lock.withLock {
            let row = try database.cached("""
                SELECT kind, decoding, client_host, client_port, server_host, server_port, started_us, ended_us,
                       end_reason, replay_of
                FROM sessions WHERE id = ?
                """)
            defer { row.reset() }
            try row.bind([.integer(id)])
            guard try row.step() else { return nil }
            let info = SessionInfo(
                kind: row.text(0).flatMap(SessionKind.init(rawValue:)) ?? .server,
                decoding: row.text(1).flatMap(Decoding.init(rawValue:)) ?? .raw,
                clientHost: row.text(2) ?? "", clientPort: row.int(3),
                serverHost: row.text(4) ?? "", serverPort: row.int(5),
                startedMicros: row.int64(6), replayOf: row.optionalInt64(9))
            let endedMicros = row.optionalInt64(7)
            let endReason = row.text(8)

            let messages = try database.cached(
                "SELECT seq, at_us, sender, raw FROM messages m WHERE \(MessageLookup.ofSession("?1")) ORDER BY id")
            defer { messages.reset() }
            try messages.bind([.integer(id)])
            var recorded: [RecordedMessage] = []
            while try messages.step() {
                recorded.append(RecordedMessage(
                    seq: messages.int64(0), atMicros: messages.int64(1),
                    sender: messages.text(2) == Sender.server.rawValue ? .server : .client,
                    raw: messages.blob(3) ?? []))
            }
            return RecordedSession(id: id, info: info, endedMicros: endedMicros, endReason: endReason, messages: recorded)
        }
    }

    /// The replay sessions `--record` wrote for `original`, started at `startedMicros`.
    public func replaySession(of original: Int64, startedMicros: Int64) throws -> Int64? {
        try lock.withLock {
            try database.scalarInt(
                "SELECT id FROM sessions WHERE kind = 'replay' AND replay_of = ? AND started_us = ? ORDER BY id DESC LIMIT 1",
                .integer(original), .integer(startedMicros))
        }
    }
}
