import Recording

/// The open sessions a feed has seen, with their counters kept from the messages it reads. The
/// store computes an open session's counters from all its messages (its row's own are written when
/// it ends): asking it every poll read every message of every busy session each time, which with
/// 50 connections of load cost the recorder 94% of its rate.
///
/// A session read from the store counts its messages up to its `messageCount`, and the recorder
/// numbers a session's messages 1, 2, 3… (`seq`): so a message counts when its `seq` is above the
/// count, whatever was read first, and nothing is counted twice.
struct OpenSessions {
    private var sessions: [Int64: SessionSummary] = [:]

    var ids: [Int64] { Array(sessions.keys) }

    subscript(id: Int64) -> SessionSummary? { sessions[id] }

    /// A session as the store has it now: followed while open, forgotten once ended.
    mutating func track(_ session: SessionSummary) {
        sessions[session.id] = session.endedMicros == nil ? session : nil
    }

    /// Adds `message` to its session's counters: the session as it is now, or nil when the session
    /// is not followed or the message is counted already.
    mutating func count(_ message: MessageFacts) -> SessionSummary? {
        guard var session = sessions[message.sessionID], message.seq > session.messageCount else { return nil }
        session.messageCount = message.seq
        switch message.sender {
        case .client: session.bytesFromClient += message.byteCount
        case .server: session.bytesFromServer += message.byteCount
        }
        sessions[message.sessionID] = session
        return session
    }
}
