import NIOConcurrencyHelpers

extension Replayer {
    /// What `replay --learn-noise N` finds: the sessions replayed `runs` times against the same
    /// server; every field that differed from the recording in any run (a `Date`, a generated id,
    /// a counter) becomes an ignore rule. Steps that differ by bytes only (protocols compared by
    /// bytes) cannot be said as rules and are counted instead.
    public func learnNoise(_ ids: [Int64], runs: Int) async -> NoiseLearnt {
        let learnt = NIOLockedValueBox(NoiseLearnt())
        for _ in 0..<runs {
            _ = await run(ids) { report in
                learnt.withLockedValue { learnt in
                    if report.error != nil { learnt.sessionsNotRun += 1 }
                    for step in report.steps where step.outcome == .mismatch {
                        if step.fieldDifferences.isEmpty { learnt.byteMismatches += 1 }
                        for field in step.fieldDifferences { learnt.rules.ignore(field: Self.anyIndex(field.name)) }
                    }
                }
            }
        }
        return learnt.withLockedValue { $0 }
    }

    /// `$.items[3].id` → `$.items[*].id`: noise in one element of a list is noise in every one.
    static func anyIndex(_ name: String) -> String {
        guard name.hasPrefix("$"), let path = try? JSONPath(name) else { return name }
        return JSONPath.name(path.steps.map { (step: JSONPath.Step) -> JSONPath.Step in
            if case .index = step { return .anyIndex }
            return step
        })
    }
}

public struct NoiseLearnt: Sendable {
    public var rules = MatchRules()
    /// Mismatched steps with no field named (compared by bytes): no rule can leave them out.
    public var byteMismatches = 0
    public var sessionsNotRun = 0
}
