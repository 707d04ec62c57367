import Recording

/// What replaying one recorded session means: the bytes to send, in order, and what the
/// server said each time. Built from the recording alone, so it can be checked without a network.
public struct ReplayPlan: Sendable, Equatable {
    public struct Step: Sendable, Equatable {
        public enum Kind: String, Sendable {
            /// What the server sent before the client's first message (server-first protocols).
            case greeting
            /// One client message and what the server sent before the next one.
            case send
        }

        public var kind: Kind
        /// The client's exact bytes; empty for the greeting.
        public var send: [UInt8]
        /// Every server byte recorded after `send` and before the client's next message.
        public var expected: [UInt8]
        /// Time between the previous client message (or the session start) and this one.
        public var gapMicros: Int64
        /// Time from `send` (or the session start) to the last expected byte; nil when nothing was expected.
        public var recordedLatencyMicros: Int64?

        public init(kind: Kind, send: [UInt8], expected: [UInt8], gapMicros: Int64, recordedLatencyMicros: Int64?) {
            self.kind = kind
            self.send = send
            self.expected = expected
            self.gapMicros = gapMicros
            self.recordedLatencyMicros = recordedLatencyMicros
        }
    }

    /// How the recorded session ended, as far as a replay can do it again.
    public enum Ending: Sendable, Equatable {
        /// The server closed (QUIT, its own close, a line too long): the replay expects it to close too.
        case serverCloses(reason: String)
        /// The client closed its side. `beforeLastReply`: it did so before the server's last
        /// bytes (the server answered the end of input), so the replay closes right after sending.
        case clientCloses(beforeLastReply: Bool)
        /// Still open, reset, timed out or stopped for reasons a replay cannot repeat: just hang up.
        case hangUp
    }

    public var sessionID: Int64
    public var info: SessionInfo
    public var steps: [Step]
    public var ending: Ending

    public init(sessionID: Int64, info: SessionInfo, steps: [Step], ending: Ending) {
        self.sessionID = sessionID
        self.info = info
        self.steps = steps
        self.ending = ending
    }

    /// Splits the recording at each client message. Works for every decoding: replay only
    /// looks at who sent which bytes when.
    public init(_ session: CompleteSession) {
        var greeting: [UInt8] = []
        var greetingEnd: Int64?
        var steps: [Step] = []
        var lastClientAt = session.info.startedMicros
        var lastServerAt: Int64?

        func finishStep() {
            guard let last = steps.indices.last, !steps[last].expected.isEmpty, let lastServerAt else { return }
            steps[last].recordedLatencyMicros = max(0, lastServerAt - lastClientAt)
        }
        for message in session.messages {
            switch message.sender {
            case .server:
                if let last = steps.indices.last {
                    steps[last].expected += message.raw
                    lastServerAt = message.atMicros
                } else {
                    greeting += message.raw
                    greetingEnd = message.atMicros
                }
            case .client:
                finishStep()
                steps.append(Step(kind: .send, send: message.raw, expected: [],
                                  gapMicros: max(0, message.atMicros - lastClientAt), recordedLatencyMicros: nil))
                lastClientAt = message.atMicros
                lastServerAt = nil
            }
        }
        finishStep()
        if !greeting.isEmpty {
            let latency = greetingEnd.map { max(0, $0 - session.info.startedMicros) }
            steps.insert(Step(kind: .greeting, send: [], expected: greeting, gapMicros: 0, recordedLatencyMicros: latency), at: 0)
        }

        let ending: Ending
        switch session.endReason.flatMap(EndReason.init(rawValue:)) {
        case .quit, .serverClosed, .lineTooLong:
            ending = .serverCloses(reason: session.endReason ?? "")
        case .clientClosed:
            // Replies recorded after the client's close answered the end of input.
            let closedFirst = session.end.map(\.atMicros).map { end in lastServerAt.map { end < $0 } ?? false } ?? false
            ending = .clientCloses(beforeLastReply: closedFirst)
        default:
            ending = .hangUp
        }
        self.init(sessionID: session.id ?? 0, info: session.info, steps: steps, ending: ending)
    }
}
