import Metrics
import Recording
import Replay
import Telemetry

/// Finds the recorded request that the bytes a client has sent so far begin with, for one
/// connection. Pure: the connection feeds it its buffer and acts on the outcome.
///
/// Bytes are compared with `Difference.between`, replay's comparison, so `--ignore` masks apply
/// here exactly as they do to replay's replies.
public struct RequestMatcher {
    public enum Outcome: Equatable {
        /// The first `length` bytes are this recorded request: answer with the turn.
        case answer(MockScript.Turn, length: Int)
        /// The bytes so far begin a recorded request (or a longer one than they already match):
        /// wait for more, or for the quiet period.
        case waitForMore
        /// Nothing recorded begins with these bytes. `closest` is the recorded request sharing
        /// the longest start with them, `differsAt` the first byte of theirs that differs.
        case miss(closest: StoredMessage?, differsAt: Int)
    }

    private let script: MockScript
    private let masking: Masking
    /// `--order strict`: the session this connection follows and the next turn in it.
    private let strictSession: MockScript.Session?
    private var strictPosition = 0
    /// `--order any`: how many times each of `script.distinctRequests` was answered on this connection.
    private var answered: [Int]

    /// `connectionNumber` picks the session `--order strict` follows.
    public init(script: MockScript, order: MockOrder, masking: Masking, connectionNumber: Int) {
        self.script = script
        self.masking = masking
        strictSession = order == .strict ? script.sessions[connectionNumber % script.sessions.count] : nil
        answered = Array(repeating: 0, count: script.distinctRequests.count)
    }

    /// What the connection says first: the greeting, and how the server then closed, if it did.
    public var greeting: (replies: [MockScript.Reply], thenClose: EndReason?) {
        let session = strictSession ?? script.anyOrderGreeting
        return (session?.greeting ?? [], session?.closesAfterGreeting)
    }

    /// Matches the start of `buffer`. With `complete` (a quiet period passed, or the input
    /// ended) the bytes are all there will be: no waiting, the longest match or a miss. With
    /// `whole` (a line or command already cut) only a request that is all of `buffer` matches.
    public mutating func match(_ buffer: [UInt8], complete: Bool, whole: Bool = false) -> Outcome {
        // Candidates by index: into `script.distinctRequests`, or the one turn `--order strict` expects.
        let candidateCount: Int
        if let strictSession {
            guard strictPosition < strictSession.turns.count else {
                MockMeters.misses.increment()
                return .miss(closest: nil, differsAt: 0)
            }
            candidateCount = 1
        } else {
            candidateCount = script.distinctRequests.count
        }
        var best: (candidate: Int, length: Int)?
        var longerPossible = false
        var closest: (candidate: Int, matched: Int, differsAt: Int)?
        for candidate in 0..<candidateCount {
            let request = strictSession?.turns[strictPosition].request.raw ?? script.distinctRequests[candidate]
            guard let difference = Difference.between(expected: request, actual: buffer, masking: masking) else {
                // The whole buffer is this request.
                if best.map({ $0.length < buffer.count }) ?? true { best = (candidate, buffer.count) }
                continue
            }
            if difference.expectedOffset == request.count && !whole {
                // The request is all there, followed by more bytes.
                if best.map({ $0.length < difference.actualOffset }) ?? true { best = (candidate, difference.actualOffset) }
                continue
            }
            // The buffer ends inside the request: more bytes may complete it.
            if difference.actualOffset == buffer.count { longerPossible = true }
            if closest.map({ $0.matched < difference.expectedOffset }) ?? true {
                closest = (candidate, difference.expectedOffset, difference.actualOffset)
            }
        }
        if longerPossible && !complete { return .waitForMore }
        guard let best else {
            MockMeters.misses.increment()
            if let strictSession {
                return .miss(closest: strictSession.turns[strictPosition].request, differsAt: closest?.differsAt ?? 0)
            }
            let closestTurn = closest.flatMap { script.turnsOfDistinctRequest[$0.candidate].first }.map { script.turns[$0].request }
            return .miss(closest: closestTurn, differsAt: closest?.differsAt ?? 0)
        }
        MockMeters.hits.increment()
        return .answer(takeTurn(candidate: best.candidate), length: best.length)
    }

    /// The turn that answers candidate `candidate` of `match` now, counting it as answered.
    private mutating func takeTurn(candidate: Int) -> MockScript.Turn {
        if let strictSession {
            defer { strictPosition += 1 }
            return strictSession.turns[strictPosition]
        }
        let recordings = script.turnsOfDistinctRequest[candidate]
        let count = answered[candidate]
        answered[candidate] = count + 1
        // Past the last recording of a request, its last reply is repeated.
        return script.turns[recordings[min(count, recordings.count - 1)]]
    }
}

enum MockMeters {
    static let hits = WirelogMetrics.mockRequests.counter("hit")
    static let misses = WirelogMetrics.mockRequests.counter("miss")
}
