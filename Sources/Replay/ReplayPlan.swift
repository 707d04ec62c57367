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
        /// Secrets in `send` that were stored as tokens: the replay sends a `--secret` in their place.
        public var sendRedactions: [RedactedSpan]
        /// The tokens in `expected`: the comparison skips them.
        public var expectedRedactions: [RedactedSpan]

        public init(kind: Kind, send: [UInt8], expected: [UInt8], gapMicros: Int64, recordedLatencyMicros: Int64?,
                    sendRedactions: [RedactedSpan] = [], expectedRedactions: [RedactedSpan] = []) {
            self.kind = kind
            self.send = send
            self.expected = expected
            self.gapMicros = gapMicros
            self.recordedLatencyMicros = recordedLatencyMicros
            self.sendRedactions = sendRedactions
            self.expectedRedactions = expectedRedactions
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
        var greetingRedactions: [RedactedSpan] = []
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
                    let base = steps[last].expected.count
                    steps[last].expectedRedactions += message.redactions.map { $0.shifted(by: base) }
                    steps[last].expected += message.raw
                    lastServerAt = message.atMicros
                } else {
                    greetingRedactions += message.redactions.map { $0.shifted(by: greeting.count) }
                    greeting += message.raw
                    greetingEnd = message.atMicros
                }
            case .client:
                finishStep()
                steps.append(Step(kind: .send, send: message.raw, expected: [],
                                  gapMicros: max(0, message.atMicros - lastClientAt), recordedLatencyMicros: nil,
                                  sendRedactions: message.redactions))
                lastClientAt = message.atMicros
                lastServerAt = nil
            }
        }
        finishStep()
        if !greeting.isEmpty {
            let latency = greetingEnd.map { max(0, $0 - session.info.startedMicros) }
            steps.insert(Step(kind: .greeting, send: [], expected: greeting, gapMicros: 0, recordedLatencyMicros: latency,
                              expectedRedactions: greetingRedactions), at: 0)
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

extension RedactedSpan {
    /// The span where its message starts `offset` bytes into a longer run of bytes.
    func shifted(by offset: Int) -> RedactedSpan { RedactedSpan(offset: self.offset + offset, length: length, rule: rule) }
}

/// The values `replay --secret` sends in place of redaction tokens: by rule name, or by the token
/// itself (when one rule hid several different secrets).
public struct ReplaySecrets: Sendable, Equatable {
    private var values: [String: [UInt8]] = [:]

    public init() {}

    public var isEmpty: Bool { values.isEmpty }

    /// Gives `name` (a rule or a token) a value.
    public mutating func set(_ name: String, _ value: [UInt8]) {
        values[name] = value
    }

    /// The value given to rule `name`, if any.
    public func value(ofRule name: String) -> [UInt8]? {
        values[name]
    }

    /// `send` with each token replaced by its secret (the token's own value first, then its
    /// rule's), or the rules that have none. A secret of another length than the recorded one
    /// gets the length that frames it put right where the protocol's framing shows it (`reframe`).
    public func restore(_ send: [UInt8], _ spans: [RedactedSpan]) -> Result<RestoredMessage, MissingSecrets> {
        var restored: [UInt8] = []
        var missing: [String] = []
        var unframed: [String] = []
        var position = 0
        for span in spans where span.offset >= position && span.storedRange.upperBound <= send.count {
            restored += send[position..<span.offset]
            if let value = values[span.token(in: send)] ?? values[span.rule] {
                if value.count != span.length, !Self.reframe(&restored, recordedLength: span.length, length: value.count),
                   !unframed.contains(span.rule) {
                    unframed.append(span.rule)
                }
                restored += value
            } else if !missing.contains(span.rule) {
                missing.append(span.rule)
            }
            position = span.storedRange.upperBound
        }
        guard missing.isEmpty else { return .failure(MissingSecrets(rules: missing)) }
        return .success(RestoredMessage(bytes: restored + send[position...], unframed: unframed))
    }

    /// Puts right the length in front of a secret about to be appended to `restored`: a RESP bulk
    /// string's `$N\r\n` (redis-auth), or the length of the PostgreSQL password or SASL message
    /// whose body it is, wherever it stands in a turn (postgres-password: `p`, then a 4-byte length
    /// counting itself). False when neither is there.
    static func reframe(_ restored: inout [UInt8], recordedLength: Int, length: Int) -> Bool {
        let bulk = Array("$\(recordedLength)\r\n".utf8)
        if restored.count >= bulk.count, restored.suffix(bulk.count).elementsEqual(bulk) {
            restored.replaceSubrange((restored.count - bulk.count + 1)..<(restored.count - 2), with: Array(String(length).utf8))
            return true
        }
        let lengthAt = restored.count - 4
        if lengthAt >= 1, restored[lengthAt - 1] == UInt8(ascii: "p"),
           restored[lengthAt...].reduce(0, { $0 << 8 | Int($1) }) == 4 + recordedLength, let framed = UInt32(exactly: 4 + length) {
            restored.replaceSubrange(lengthAt..., with: withUnsafeBytes(of: framed.bigEndian) { Array($0) })
            return true
        }
        return false
    }
}

/// A message with its secrets back in place.
public struct RestoredMessage: Sendable, Equatable {
    public var bytes: [UInt8]
    /// Rules whose secret is not as long as the recorded one, with no length in front of it to put
    /// right: if the protocol frames it by length some other way, the server waits for more.
    public var unframed: [String]
}

/// Rules whose tokens a step holds but no `--secret` covers.
public struct MissingSecrets: Error, Equatable {
    public var rules: [String]
}
