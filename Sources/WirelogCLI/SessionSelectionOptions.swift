import ArgumentParser
import Replay

/// Which recorded sessions replay and mock work from: ids, the filters of `sessions list`, or both.
struct SessionSelectionOptions: ParsableArguments {
    @Argument(help: "Ids of the sessions to use (with filters, a session must pass them too).")
    var ids: [Int64] = []

    @OptionGroup(title: "Session filters (as in wirelog sessions list)") var filters: SessionFilterOptions

    @Option(parsing: .unconditional, help: "Only the most recent this many matching sessions.")
    var limit: Int?

    func validate() throws {
        if let limit, limit <= 0 { throw ValidationError("--limit must be positive") }
        _ = try selection()
    }

    /// The selection; a filter that cannot be read is a validation error.
    func selection() throws -> SessionSelection {
        var selection = SessionSelection()
        selection.ids = ids
        do {
            selection.filter = try filters.filter()
        } catch {
            throw ValidationError("\(error)")
        }
        selection.limit = limit
        return selection
    }
}
