import ArgumentParser
import LabProtocol
import Presentation
import Recording
import SessionFormats

struct SessionsStats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Counts by verb, reply code and end reason; reply latency; busiest clients.",
        discussion: """
            Covers the sessions the filters select (by start time for --since/--until). Latency \
            pairs each client message with the next server message of its session.

            Examples:
              wirelog sessions stats --since 1d
              wirelog sessions stats --since 2026-11-24 --until 2026-11-25 --json
            """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var filters: SessionFilterOptions
    @OptionGroup var tlsFilters: TLSFilterOptions

    @OptionGroup(title: "Protocol filters") var protocolFilters: ProtocolFilterOptions

    @Option(parsing: .unconditional, help: "How many of the busiest clients to show.")
    var top = 10

    @Flag(help: "One JSON object instead of tables.")
    var json = false

    func validate() throws {
        guard top >= 0 else { throw ValidationError("--top cannot be negative") }
    }

    func run() async throws {
        try await withStore(database) { store in
            let stats = try await store.stats(try protocolFilters.narrowing(tlsFilters.narrowing(try filters.filter())), topClients: top)
            if json {
                Output.line(try JSONOutput.line(StatsJSON(stats)))
                return
            }
            Output.line("\(counted(stats.sessions, "session")), \(counted(stats.messages, "message"))")
            section("verb", stats.byVerb, missing: "(none)")
            section("reply code", stats.byReplyCode, missing: "(none)")
            section("end reason", stats.byEndReason, missing: SessionFilter.openReason)
            Output.line()
            if let latency = stats.latency {
                var table = TableFormatter([.left("command → reply latency"), .right("p50"), .right("p90"), .right("p99"), .right("max"), .right("pairs")])
                table.append(["", DurationText.micros(latency.p50), DurationText.micros(latency.p90),
                              DurationText.micros(latency.p99), DurationText.micros(latency.max), String(latency.count)])
                Output.line(table.render())
            } else {
                Output.line("command → reply latency: no command got a reply")
            }
            if !stats.exchanges.isEmpty {
                Output.line()
                var table = TableFormatter([.left("protocol"), .left("request"), .right("count"), .right("errors"),
                                            .right("p50"), .right("p90"), .right("p99"), .right("max")])
                for group in stats.exchanges {
                    table.append([Escaping.escape(Array(group.protocolName.utf8)), Escaping.escape(Array(group.request.utf8)),
                                  String(group.count), Self.share(group.errors, of: group.count),
                                  DurationText.micros(group.latency.p50), DurationText.micros(group.latency.p90),
                                  DurationText.micros(group.latency.p99), DurationText.micros(group.latency.max)])
                }
                Output.line(table.render())
            }
            if !stats.busiestClients.isEmpty {
                Output.line()
                var table = TableFormatter([.left("busiest clients"), .right("sessions"), .right("messages"), .right("bytes")])
                for client in stats.busiestClients {
                    table.append([Escaping.escape(Array(client.host.utf8)), String(client.sessions), String(client.messages), String(client.bytes)])
                }
                Output.line(table.render())
            }
        }
    }

    /// `0`, `3 (1.2%)`.
    static func share(_ part: Int, of whole: Int) -> String {
        guard part > 0, whole > 0 else { return "0" }
        let tenths = (part * 1000 + whole / 2) / whole
        return "\(part) (\(tenths / 10).\(tenths % 10)%)"
    }

    private func section(_ title: String, _ counts: [SessionStats.Count], missing: String) {
        guard !counts.isEmpty else { return }
        Output.line()
        var table = TableFormatter([.left(title), .right("count")])
        for count in counts {
            table.append([count.key.map { Escaping.escape(Array($0.utf8)) } ?? missing, String(count.count)])
        }
        Output.line(table.render())
    }
}
