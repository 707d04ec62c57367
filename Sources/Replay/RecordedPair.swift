import Recording

/// A recorded replay set against the session it replayed, step by step, with the comparison
/// `wirelog replay` makes: what the original server said against what the replayed one said.
public struct RecordedPair: Sendable {
    public struct Step: Sendable {
        public var number: Int
        public var kind: StepResult.Kind
        /// What the original client sent, and what the replay sent (nil past either end).
        public var sent: [UInt8]?
        public var replaySent: [UInt8]?
        /// What the original server said, and what the server said to the replay.
        public var expected: [UInt8]?
        public var actual: [UInt8]?
        /// Where the replies first differ; nil when they are equal.
        public var difference: Difference?
        /// On the close step: who ended the original and the replay (`the server closed`).
        public var ending: String?
        public var replayEnding: String?

        public var differs: Bool { difference != nil || sent != replaySent || ending != replayEnding }
    }

    public var steps: [Step]
    public var differing: Int { steps.count { $0.differs } }

    public init(original: CompleteSession, replay: CompleteSession, masking: Masking = .none) {
        let originalPlan = ReplayPlan(original), replayPlan = ReplayPlan(replay)
        let expectedSteps = originalPlan.steps
        let actualSteps = replayPlan.steps
        steps = (0..<max(expectedSteps.count, actualSteps.count)).map { index in
            let expected = index < expectedSteps.count ? expectedSteps[index] : nil
            let actual = index < actualSteps.count ? actualSteps[index] : nil
            let difference = Difference.between(expected: expected?.expected ?? [], actual: actual?.expected ?? [], masking: masking)
            return Step(number: index + 1, kind: (expected?.kind ?? actual?.kind) == .greeting ? .greeting : .send,
                        sent: expected?.send, replaySent: actual?.send,
                        expected: expected?.expected, actual: actual?.expected, difference: difference)
        }
        // The recorded end is a step, as `wirelog replay` counts it, unless the original just hung up.
        if let ending = originalPlan.ending.closer {
            steps.append(Step(number: steps.count + 1, kind: .close, difference: nil,
                              ending: ending, replayEnding: replayPlan.ending.closer ?? "no close"))
        }
    }
}

extension ReplayPlan.Ending {
    /// Who ended the connection: what of an ending a replay repeats. nil when nobody closed.
    var closer: String? {
        switch self {
        case .serverCloses: "the server closed"
        case .clientCloses: "the client closed"
        case .hangUp: nil
        }
    }
}
