import ArgumentParser
import Recording

/// Which sessions export and delete act on: ids, the filters of `sessions list`, or --all.
struct SessionChoiceOptions: ParsableArguments {
    @Argument(help: "Session ids (or choose them with the filters, or --all).")
    var ids: [Int64] = []

    @OptionGroup var filters: SessionFilterOptions

    @OptionGroup(title: "Protocol filters") var protocolFilters: ProtocolFilterOptions

    @Flag(help: "Every session in the store.")
    var all = false

    func validate() throws {
        let filtered = try protocolFilters.narrowing(filters.filter()) != SessionFilter()
        guard !ids.isEmpty || filtered || all else {
            throw ValidationError("name the sessions: ids, filters such as --since 1d or --recorder NAME, or --all")
        }
        if all && (filtered || !ids.isEmpty) { throw ValidationError("--all takes every session: give it alone") }
    }

    /// The chosen sessions, oldest first. Every id must exist (else `RecordingError.noSuchSession`);
    /// with ids and filters, a session must pass both.
    func sessions(in store: any RecordingStore) async throws -> [SessionSummary] {
        var sessions: [SessionSummary] = []
        for id in ids { sessions.append(try await store.session(id)) }
        let filter = try protocolFilters.narrowing(filters.filter())
        if ids.isEmpty {
            sessions = try await store.list(filter, limit: Int(Int32.max)).reversed()
            if sessions.isEmpty { throw QueryError.usage("no session matches the filters (wirelog sessions list shows what is recorded)") }
        } else if filter != SessionFilter() {
            let chosen = Set(try await store.list(filter, limit: Int(Int32.max)).map(\.id))
            sessions = sessions.filter { chosen.contains($0.id) }
        }
        return sessions
    }
}
