import Hummingbird
import LabProtocol
import Presentation
import Recording
import Replay
import SessionFormats

/// `/api/stats` (the figures of `sessions stats`) and `/api/replays/:id` (a replay beside its original).
struct StatsAndReplayAPI {
    let store: ViewerStore

    func add(to router: Router<BasicRequestContext>) {
        router.get("/api/stats") { request, _ in
            let filter = try request.sessionFilter()
            let top = try request.positiveInt("top", default: 10, maximum: 100)
            return try Response.json(StatsView(try await store.read { try await $0.stats(filter, topClients: top) }))
        }
        router.get("/api/replays/:id") { _, context in try await pair(replayID: try context.sessionID()) }
    }

    private func pair(replayID: Int64) async throws -> Response {
        let (original, replay) = try await store.read { store in
            guard let replay = try await store.completeSession(replayID) else { throw RecordingError.noSuchSession(replayID) }
            guard let originalID = replay.info.replayOf else {
                throw ViewerError.badRequest("session \(replayID) is not a replay (it has no replay-of)")
            }
            guard let original = try await store.completeSession(originalID) else { throw RecordingError.noSuchSession(originalID) }
            return (original, replay)
        }
        let compared = RecordedPair(original: original, replay: replay)
        let summaries = try await store.read { (try await $0.session(original.id ?? 0), try await $0.session(replayID)) }
        return try Response.json(PairView(original: SessionView(summaries.0), replay: SessionView(summaries.1),
                                  differing: compared.differing, steps: compared.steps.map(PairView.Step.init)))
    }
}

/// `sessions stats --json`'s object, plus the latencies worded as the CLI's table prints them.
struct StatsView: Encodable {
    let stats: StatsJSON
    let latencyText: [String: String]?

    init(_ stats: SessionStats) {
        self.stats = StatsJSON(stats)
        latencyText = stats.latency.map { latency in
            ["p50": latency.p50, "p90": latency.p90, "p99": latency.p99, "max": latency.max].mapValues(DurationText.micros)
        }
    }

    private enum CodingKeys: String, CodingKey { case latencyText }

    func encode(to encoder: any Encoder) throws {
        try stats.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(latencyText, forKey: .latencyText)
    }
}

/// The pair as the page shows it: every byte escaped as the CLI prints it.
struct PairView: Encodable {
    struct Step: Encodable {
        let number: Int
        let kind: String
        let sent: String?
        let replaySent: String?
        let expected: String?
        let actual: String?
        let differs: Bool
        /// Byte offsets of the first difference in the replies (expected, actual).
        let firstDifference: [Int]?
        /// On the `close` step: who ended each session (`the server closed`).
        let ending: String?
        let replayEnding: String?

        init(_ step: RecordedPair.Step) {
            number = step.number
            kind = step.kind.rawValue
            sent = step.sent.map { Escaping.escape($0) }
            replaySent = step.replaySent.map { Escaping.escape($0) }
            expected = step.expected.map { Escaping.escape($0) }
            actual = step.actual.map { Escaping.escape($0) }
            differs = step.differs
            firstDifference = step.difference.map { [$0.expectedOffset, $0.actualOffset] }
            ending = step.ending
            replayEnding = step.replayEnding
        }
    }

    let original: SessionView
    let replay: SessionView
    let differing: Int
    let steps: [Step]
}
