/// What a sink's writer queues: the four things a `SessionTape` asks of it.
package enum SinkOperation: Sendable {
    case begin(RecordingSession)
    case message(RecordingSession, RecordedMessage)
    case tls(RecordingSession, TLSDetails)
    case faults(RecordingSession, [FaultRecord])
    case end(RecordingSession, SessionEnd)

    package var session: RecordingSession {
        switch self {
        case .begin(let session), .message(let session, _), .tls(let session, _), .faults(let session, _),
             .end(let session, _): session
        }
    }

    /// What an operation weighs in a sink's queue: its bytes, plus a little for the bookkeeping.
    package var queuedBytes: Int {
        if case .message(_, let message) = self { return message.raw.count + 64 }
        return 64
    }
}

/// The sessions one batch touched and the highest seq of each, so that after the transaction
/// every one of them hears the outcome, grouped by delivery (one wake-up per event loop).
package struct SinkBatch {
    package private(set) var sessions: [RecordingSession] = []
    /// Bytes of the messages the batch holds (for `wirelog_recorder_bytes_total`).
    package private(set) var messageBytes = 0

    /// `number` must differ from the previous batch's (a sink counts its batches).
    package init(_ operations: [SinkOperation], number: UInt64) {
        for operation in operations {
            let session = operation.session
            if session.batchMark != number {
                session.batchMark = number
                session.batchHighestSeq = 0
                sessions.append(session)
            }
            if case .message(let session, let message) = operation {
                session.batchHighestSeq = max(session.batchHighestSeq, message.seq)
                messageBytes += message.raw.count
            }
        }
    }

    package func deliverCommitted() {
        deliver { .committed(throughSeq: $0.batchHighestSeq) }
    }

    package func deliverFailed(_ reason: String) {
        deliver { _ in .failed(reason: reason) }
    }

    /// One `schedule` per delivery (event loop) with the outcomes of all its sessions.
    private func deliver(_ outcome: (RecordingSession) -> CommitOutcome) {
        var groups: [(delivery: CommitDelivery, outcomes: [(RecordingSession, CommitOutcome)])] = []
        for session in sessions {
            let item = (session, outcome(session))
            if let index = groups.firstIndex(where: { $0.delivery.owner == session.delivery.owner }) {
                groups[index].outcomes.append(item)
            } else {
                groups.append((session.delivery, [item]))
            }
        }
        for (delivery, outcomes) in groups {
            delivery.schedule {
                for (session, outcome) in outcomes { session.onCommit(outcome) }
            }
        }
    }
}
