import Recording

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
    public func resolve(in store: any RecordingStore) async throws -> [Int64] {
        func matching() async throws -> [Int64] {
            try await store.list(filter, limit: limit ?? Int(Int32.max)).map(\.id)
        }
        guard !ids.isEmpty else {
            let found = try await matching()
            guard !found.isEmpty else { throw SelectionError.nothingMatches }
            return found.reversed()
        }
        var missing: [Int64] = []
        for id in ids {
            do {
                _ = try await store.session(id)
            } catch RecordingError.noSuchSession {
                missing.append(id)
            }
        }
        guard missing.isEmpty else { throw SelectionError.noSuchSessions(missing) }
        guard hasFilters else { return ids }
        let allowed = Set(try await matching())
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
            return ids.count == 1 ? "no session \(list) in the store" : "no sessions \(list) in the store"
        case .nothingMatches:
            return "no recorded session matches; check the ids and filters (wirelog sessions list shows what is recorded)"
        }
    }
}
