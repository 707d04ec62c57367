import Foundation
import NIOCore
import NIOPosix
import Presentation
import Recording
import WirelogTLS

public enum Pace: String, Sendable, CaseIterable {
    /// Send each message as soon as the reply to the previous one is in.
    case fast
    /// Keep the recorded gaps between client messages (divided by `speed`).
    case original
}

public struct ReplayOptions: Sendable {
    public var host: String
    public var port: Int
    public var pace: Pace = .fast
    public var speed: Double = 1
    /// Longest wait for a connection, a reply or a close.
    public var timeout: TimeAmount = .seconds(5)
    /// Regular expressions for volatile parts of replies (see `Masking`).
    public var ignore: [String] = []
    /// Fields left out when HTTP, RESP and PostgreSQL replies are compared by field (`--rules`).
    public var rules = MatchRules()
    public var concurrency = 1
    /// Who the replay sessions say recorded them, with `--record`.
    public var recorderName = RecorderName.hostName
    /// Once the reply already differs from the recording, how long the server must stay
    /// quiet before the step is judged (rather than waiting for the whole timeout).
    public var settle: TimeAmount = .milliseconds(100)
    /// Most bytes held from the server beyond what steps claimed; a server sending more is cut off.
    public var maxBufferedBytes = 64 << 20
    /// Replay over TLS (`--tls`).
    public var tls: ClientTLS?
    /// What to send in place of redaction tokens (`--secret`).
    public var secrets = ReplaySecrets()
    /// The store's redaction rules with its key: what a report shows of the server's replies is
    /// redacted as the store would hold it.
    public var redactor: Redactor?

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

/// Replays recorded sessions against a server, `concurrency` at a time.
public final class Replayer: Sendable {
    private let options: ReplayOptions
    private let store: any RecordingStore
    private let sink: (any RecordingSink)?
    private let group: any EventLoopGroup

    /// Reads the recordings from `store`; with a `sink`, every replay is recorded as a session of
    /// kind `replay`. Throws when an `ignore` pattern is not a valid regular expression.
    public init(options: ReplayOptions, store: any RecordingStore, sink: (any RecordingSink)? = nil,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws(MaskingError) {
        _ = try Masking(patterns: options.ignore)
        self.options = options
        self.store = store
        self.sink = sink
        self.group = group
    }

    /// Replays `ids`; `onReport` is called once per session as it finishes (from any task).
    public func run(_ ids: [Int64], onReport: @escaping @Sendable (SessionReport) -> Void) async -> ReplaySummary {
        let queue = WorkQueue(ids)
        let summary = SummaryBox()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, min(options.concurrency, ids.count)) {
                group.addTask {
                    while let id = queue.next() {
                        let report = await self.replay(id)
                        summary.add(report)
                        onReport(report)
                    }
                }
            }
        }
        return summary.value
    }

    /// Replays one recorded session.
    public func replay(_ id: Int64) async -> SessionReport {
        let plan: ReplayPlan
        do {
            guard let session = try await store.completeSession(id) else {
                var report = SessionReport(sessionID: id, info: nil)
                report.error = "no session \(id) in the store"
                return report
            }
            plan = ReplayPlan(session)
        } catch {
            var report = SessionReport(sessionID: id, info: nil)
            report.error = "cannot read session \(id): \(error)"
            return report
        }
        // Checked in init, so it compiles.
        let masking = (try? Masking(patterns: options.ignore)) ?? .none
        return await SessionReplay(plan: plan, options: options, masking: masking).run(group: group, sink: sink)
    }
}

/// One session's replay: connect, then each step in order, then the recorded ending.
struct SessionReplay {
    let plan: ReplayPlan
    let options: ReplayOptions
    let masking: Masking

    /// A step that has been waited for and may still collect late bytes before the next send.
    private struct Pending {
        let index: Int
        let wait: ReplyWait
        let startedAt: NIODeadline
        /// What a reply that does not come may be owed to: secrets whose new length is not framed.
        var unframed: [String] = []
    }

    func run(group: any EventLoopGroup, sink: (any RecordingSink)?) async -> SessionReport {
        var report = SessionReport(sessionID: plan.sessionID, info: plan.info)
        let connection: ReplayConnection
        do {
            connection = try await ReplayConnection.connect(
                host: options.host, port: options.port, timeout: options.timeout, settle: options.settle,
                maxBufferedBytes: options.maxBufferedBytes, tls: options.tls, group: group)
        } catch let error as TLSHandshakeError {
            report.error = "TLS with \(options.host):\(options.port) failed: \(error.leg.failure ?? "the connection closed during the handshake")"
            return report
        } catch {
            report.error = "cannot connect to \(options.host):\(options.port): \(NetworkErrorText.reason(error))"
            return report
        }
        if let sink {
            await connection.record(into: sink, recorder: options.recorderName, replayOf: plan.sessionID, decoding: plan.info.decoding)
        }
        let connectedAt = NIODeadline.now()
        var lastSend = connectedAt
        var pending: Pending?
        /// Why the conversation cannot go on; later steps are skipped.
        var stopped: String?
        let lastIndex = plan.steps.count - 1
        let login = PostgresLogin(plan)

        for (index, step) in plan.steps.enumerated() {
            if let stopped {
                report.steps.append(skipped(index, step, because: stopped))
                continue
            }
            if let login, login.steps.contains(index) {
                // The login took the place of these steps: the recorded authentication is not sent.
                guard index == login.steps.lowerBound else {
                    report.steps.append(result(index, step, .match, actual: []))
                    continue
                }
                if let previous = pending {
                    report.steps.append(await judge(previous, connection))
                    pending = nil
                }
                switch await login.run(startup: step.send, password: options.secrets.value(ofRule: PostgresLogin.passwordRule),
                                       on: connection, timeout: options.timeout) {
                case .success(let (actual, method)):
                    let others = login.steps.count > 1 ? " (steps \(index + 2)–\(login.steps.upperBound + 1))" : ""
                    report.steps.append(result(index, step, .match, actual: actual,
                                               reason: "logged in afresh as \(login.user) (\(method)); the recorded login\(others) is not compared"))
                case .failure(let failure):
                    stopped = failure.description
                    report.steps.append(result(index, step, .mismatch, actual: await connection.take(), reason: failure.description))
                }
                continue
            }
            var startedAt = connectedAt
            var unframed: [String] = []
            if step.kind == .send {
                if options.pace == .original {
                    let due = lastSend + .microseconds(Int64(Double(step.gapMicros) / options.speed))
                    let wait = due - .now()
                    if wait > .zero { try? await Task.sleep(nanoseconds: UInt64(wait.nanoseconds)) }
                }
                // What arrived since the previous step's reply still belongs to it.
                if let previous = pending {
                    report.steps.append(await judge(previous, connection))
                    pending = nil
                }
                let bytes: [UInt8]
                switch options.secrets.restore(step.send, step.sendRedactions) {
                case .success(let restored):
                    bytes = restored.bytes
                    unframed = restored.unframed
                case .failure(let missing):
                    // A token is never sent as if it were the secret; without it the conversation cannot go on.
                    let rules = missing.rules.joined(separator: ", ")
                    stopped = "step \(index + 1) was not sent (redacted)"
                    report.steps.append(result(index, step, .redacted, actual: [],
                                               reason: "REDACTED, not sent: no --secret for \(rules) (give --secret \(missing.rules[0])=VALUE or =@ENVVAR)"))
                    continue
                }
                guard let sentAt = await connection.send(bytes) else {
                    let reason = await connection.serverEnded() ?? "the connection was closed"
                    stopped = "\(reason) before this message could be sent"
                    report.steps.append(result(index, step, .mismatch, actual: await connection.take(), reason: stopped))
                    continue
                }
                lastSend = sentAt
                startedAt = sentAt
                if index == lastIndex, plan.ending == .clientCloses(beforeLastReply: true) {
                    await connection.closeOutput()
                }
            }
            let wait = step.expected.isEmpty ? ReplyWait.complete(at: startedAt)
                : await connection.awaitReply(step.expected, timeout: options.timeout)
            let current = Pending(index: index, wait: wait, startedAt: startedAt, unframed: unframed)
            switch wait {
            case .complete, .diverged:
                if step.expected.isEmpty && index != lastIndex {
                    // Nothing was recorded here (pipelined messages): bytes go to the next step.
                    report.steps.append(result(index, step, .match, actual: []))
                } else {
                    pending = current
                }
            case .timedOut, .ended:
                let judged = await judge(current, connection)
                report.steps.append(judged)
                if judged.outcome == .mismatch { stopped = judged.reason }
            }
        }
        if let previous = pending {
            report.steps.append(await judge(previous, connection))
        }
        if let close = await replayEnding(connection, skippedBecause: stopped) {
            report.steps.append(close)
        }
        report.recordedSessionID = await connection.close()
        report.steps = report.steps.map(redactedForReport)
        return report
    }

    /// `step` with the server's actual bytes redacted as the store would hold them (the
    /// difference's offset moved with them): a report never shows a secret.
    private func redactedForReport(_ step: StepResult) -> StepResult {
        guard let redactor = options.redactor, !step.actual.isEmpty else { return step }
        var state = RedactionState()
        let (raw, spans) = redactor.redacted(step.actual, from: .server, state: &state)
        guard !spans.isEmpty else { return step }
        var shown = step
        shown.actual = raw
        if let offset = step.difference?.actualOffset { shown.difference?.actualOffset = spans.storedOffset(ofOriginal: offset) }
        return shown
    }

    /// Claims the bytes received for `pending`'s step and compares them with the recording.
    private func judge(_ pending: Pending, _ connection: ReplayConnection) async -> StepResult {
        let step = plan.steps[pending.index]
        let actual = await connection.take()
        let difference = Difference.between(expected: step.expected, actual: actual, masking: masking,
                                            redacted: step.expectedRedactions.map(\.storedRange))
        // Decoded protocols are compared by field: bytes that differ only in noise the rules name match.
        let fieldDifferences = difference == nil ? [] : self.fieldDifferences(step, actual: actual)
        guard let difference, fieldDifferences?.isEmpty != true else {
            var matched = result(pending.index, step, .match, actual: actual)
            if case .complete(let at) = pending.wait, !step.expected.isEmpty {
                matched.latencyMicros = (at - pending.startedAt).nanoseconds / 1_000
            }
            return matched
        }
        var reason: String?
        switch pending.wait {
        case .timedOut:
            reason = "no reply within \(describe(options.timeout)): received \(actual.count) of \(step.expected.count) recorded bytes"
        case .ended(let why):
            reason = "\(why) after \(actual.count) of \(step.expected.count) recorded bytes"
        case .complete, .diverged:
            reason = nil
        }
        if let said = reason, !pending.unframed.isEmpty {
            let rules = pending.unframed.joined(separator: ", ")
            reason = said + " (the --secret for \(rules) is not as long as the recorded one, and no length in front of it could be put right: if the protocol frames it by length, the server is still waiting for the rest)"
        }
        var mismatch = result(pending.index, step, .mismatch, actual: actual, reason: reason)
        mismatch.difference = difference
        mismatch.fieldDifferences = fieldDifferences ?? []
        return mismatch
    }

    /// The fields of the reply that differ from the recorded one's, the rules' noise left out; nil
    /// when the session's protocol is compared by bytes (or either side does not decode). Redaction
    /// tokens are compared by bytes, where their skipping is known.
    private func fieldDifferences(_ step: ReplayPlan.Step, actual: [UInt8]) -> [FieldDifference]? {
        let protocolName = plan.info.decoding.rawValue
        guard step.expectedRedactions.isEmpty, masking.isEmpty, !step.expected.isEmpty,
              let expected = MessageShape.response(step.expected, protocolName: protocolName),
              let received = MessageShape.response(actual, protocolName: protocolName)
        else { return nil }
        return expected.differences(from: received, rules: options.rules)
    }

    /// The recorded end, done again: a close expected from the server, or our own close.
    private func replayEnding(_ connection: ReplayConnection, skippedBecause stopped: String?) async -> StepResult? {
        let number = plan.steps.count + 1
        func closeStep(_ outcome: StepResult.Outcome, actual: [UInt8] = [], reason: String? = nil) -> StepResult {
            StepResult(number: number, kind: .close, outcome: outcome, sent: [], expected: [], actual: actual,
                       difference: actual.isEmpty ? nil : Difference(expectedOffset: 0, actualOffset: 0), reason: reason)
        }
        switch plan.ending {
        case .hangUp:
            return nil
        case .serverCloses(let recordedReason):
            if let stopped { return closeStep(.skipped, reason: stopped) }
            let closed = await connection.awaitEnd(timeout: options.timeout)
            let extra = await connection.take()
            if !extra.isEmpty {
                return closeStep(.mismatch, actual: extra, reason: "the server sent \(extra.count) bytes more than recorded")
            }
            guard closed else {
                return closeStep(.mismatch, reason: "the recorded server closed the connection (\(recordedReason)); this one kept it open for \(describe(options.timeout))")
            }
            return closeStep(.match)
        case .clientCloses(let beforeLastReply):
            if let stopped { return closeStep(.skipped, reason: stopped) }
            if !beforeLastReply { await connection.closeOutput() }
            // A server may answer the end of input; anything it says now was not recorded.
            _ = await connection.awaitEnd(timeout: options.timeout)
            let extra = await connection.take()
            if !extra.isEmpty {
                return closeStep(.mismatch, actual: extra, reason: "the server sent \(extra.count) bytes more than recorded after the client closed its side")
            }
            return closeStep(.match)
        }
    }

    private func result(_ index: Int, _ step: ReplayPlan.Step, _ outcome: StepResult.Outcome,
                        actual: [UInt8], reason: String? = nil) -> StepResult {
        StepResult(number: index + 1, kind: step.kind == .greeting ? .greeting : .send, outcome: outcome,
                   sent: step.send, expected: step.expected, actual: actual, difference: nil, reason: reason,
                   latencyMicros: nil, recordedLatencyMicros: step.recordedLatencyMicros)
    }

    private func skipped(_ index: Int, _ step: ReplayPlan.Step, because reason: String) -> StepResult {
        result(index, step, .skipped, actual: [], reason: "not run: \(reason)")
    }
}

private func describe(_ amount: TimeAmount) -> String {
    let millis = amount.nanoseconds / 1_000_000
    return millis % 1_000 == 0 ? "\(millis / 1_000)s" : "\(millis)ms"
}

/// Hands out session ids to the replay tasks.
private final class WorkQueue: @unchecked Sendable {
    private let lock = NSLock()
    private let ids: [Int64]
    // Guarded by `lock`.
    private var position = 0

    init(_ ids: [Int64]) { self.ids = ids }

    func next() -> Int64? {
        lock.withLock {
            guard position < ids.count else { return nil }
            defer { position += 1 }
            return ids[position]
        }
    }
}

private final class SummaryBox: @unchecked Sendable {
    private let lock = NSLock()
    // Guarded by `lock`.
    private var summary = ReplaySummary()

    func add(_ report: SessionReport) { lock.withLock { summary.add(report) } }
    var value: ReplaySummary { lock.withLock { summary } }
}
