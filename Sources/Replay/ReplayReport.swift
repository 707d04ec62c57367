import Recording

/// The result of one step of a replay.
public struct StepResult: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case greeting, send
        /// The recorded end of the session: the server closing, or the client closing its side.
        case close
    }

    public enum Outcome: String, Sendable {
        case match, mismatch
        /// Not run: an earlier step failed in a way that leaves the conversation out of step.
        case skipped
        /// Not sent: the message holds a redaction token and no `--secret` gives its value.
        case redacted
    }

    /// 1-based, in the order the steps ran.
    public var number: Int
    public var kind: Kind
    public var outcome: Outcome
    public var sent: [UInt8]
    public var expected: [UInt8]
    public var actual: [UInt8]
    /// Set on a mismatch where bytes differ.
    public var difference: Difference?
    /// For HTTP, RESP and PostgreSQL: the fields that differ (`header Date`, `$.id`,
    /// `row 3 column total`), once the rules left their noise out. Empty when compared by bytes.
    public var fieldDifferences: [FieldDifference] = []
    /// Why the step failed or was skipped, for people.
    public var reason: String?
    /// From sending (or connecting) to the last expected byte, in this replay.
    public var latencyMicros: Int64?
    public var recordedLatencyMicros: Int64?

    public init(number: Int, kind: Kind, outcome: Outcome, sent: [UInt8], expected: [UInt8], actual: [UInt8],
                difference: Difference?, reason: String?, latencyMicros: Int64? = nil, recordedLatencyMicros: Int64? = nil) {
        self.number = number
        self.kind = kind
        self.outcome = outcome
        self.sent = sent
        self.expected = expected
        self.actual = actual
        self.difference = difference
        self.reason = reason
        self.latencyMicros = latencyMicros
        self.recordedLatencyMicros = recordedLatencyMicros
    }
}

/// The result of replaying one recorded session.
public struct SessionReport: Sendable {
    public var sessionID: Int64
    public var info: SessionInfo?
    public var steps: [StepResult] = []
    /// Set when the session could not be replayed at all (no connection, unreadable recording).
    public var error: String?
    /// When `--record` is on: the id the store gave the replay's own session (nil if it failed).
    public var recordedSessionID: Int64?

    public init(sessionID: Int64, info: SessionInfo?) {
        self.sessionID = sessionID
        self.info = info
    }

    public var mismatches: Int { steps.count { $0.outcome == .mismatch } }
    public var skipped: Int { steps.count { $0.outcome == .skipped } }
    public var redacted: Int { steps.count { $0.outcome == .redacted } }
    public var isMatch: Bool { error == nil && mismatches == 0 && skipped == 0 && redacted == 0 }
}

/// Totals over a whole replay run.
public struct ReplaySummary: Sendable {
    public var sessions = 0
    public var sessionsWithDifferences = 0
    /// Sessions that could not be replayed at all.
    public var sessionsNotRun = 0
    public var steps = 0
    public var matched = 0
    public var mismatched = 0
    public var skipped = 0
    /// Steps not sent for want of a `--secret`.
    public var redacted = 0
    public var recordedLatencies: [Int64] = []
    public var replayedLatencies: [Int64] = []

    public init() {}

    public mutating func add(_ report: SessionReport) {
        sessions += 1
        if report.error != nil {
            sessionsNotRun += 1
        } else if !report.isMatch {
            sessionsWithDifferences += 1
        }
        for step in report.steps {
            steps += 1
            switch step.outcome {
            case .match: matched += 1
            case .mismatch: mismatched += 1
            case .skipped: skipped += 1
            case .redacted: redacted += 1
            }
            // Latencies compare only where both runs produced the whole reply.
            if step.outcome == .match, let recorded = step.recordedLatencyMicros, let replayed = step.latencyMicros {
                recordedLatencies.append(recorded)
                replayedLatencies.append(replayed)
            }
        }
    }

    /// 0: everything matched; 1: a difference; 2: something could not be replayed; 3: incomplete,
    /// a redacted message was not sent (no `--secret` for it) and nothing else differed.
    public var exitCode: Int32 {
        if sessionsNotRun > 0 { return 2 }
        if mismatched > 0 { return 1 }
        if redacted > 0 { return 3 }
        return skipped > 0 ? 1 : 0
    }

    public var recordedLatency: Percentiles? { Percentiles(recordedLatencies) }
    public var replayedLatency: Percentiles? { Percentiles(replayedLatencies) }
}

/// p50 and p99 by nearest rank.
public struct Percentiles: Sendable, Equatable {
    public var p50: Int64
    public var p99: Int64

    public init?(_ values: [Int64]) {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        func rank(_ percent: Int) -> Int64 {
            sorted[max(0, (sorted.count * percent + 99) / 100 - 1)]
        }
        p50 = rank(50)
        p99 = rank(99)
    }
}
