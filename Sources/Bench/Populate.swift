import LabProtocol
import Recording

/// Fills a database with synthetic lab sessions that look like real traffic: HELO, DATA with
/// text payloads, the odd bad command, QUIT; replies a few hundred microseconds after each
/// command; clients drawn from a pool; start times spread evenly over a span of days.
/// For query benchmarks, so it inserts directly (prepared statements, one transaction per batch).
public struct Populate: Sendable {
    public var sessions: Int
    /// Messages in every session (commands and replies together).
    public var messagesPerSession: Int
    /// The sessions start over this many days, ending now.
    public var days: Double
    /// How many distinct client addresses.
    public var clients: Int
    public var seed: UInt64
    /// Sessions per transaction.
    public var batchSize: Int

    public init(sessions: Int, messagesPerSession: Int = 10, days: Double = 30, clients: Int = 5_000,
                seed: UInt64 = 1, batchSize: Int = 5_000) {
        self.sessions = sessions
        self.messagesPerSession = messagesPerSession
        self.days = days
        self.clients = clients
        self.seed = seed
        self.batchSize = batchSize
    }

    public struct Result: Sendable {
        public var sessions: Int
        public var messages: Int
    }

    /// Writes the sessions into `store`, `batchSize` per transaction; `progress` gets the number of
    /// sessions written after each committed batch.
    public func run(into store: any RecordingStore, endMicros: Int64 = WallClock.nowMicros(),
                    progress: (Int) -> Void = { _ in }) async throws -> Result {
        let replies = LabReplies(lineEnding: nil)
        let hosts = (0..<max(clients, 1)).map { "10.\(($0 >> 16) & 0xFF).\(($0 >> 8) & 0xFF).\($0 & 0xFF)" }
        let span = Int64(days * 86_400_000_000)
        let startMicros = endMicros - span
        var random = SplitMix64(seed: seed)
        var messages = 0
        var written = 0
        var session = SyntheticSession()
        var batch: [(session: CompleteSession, origin: String?)] = []

        while written < sessions {
            let batchEnd = min(written + batchSize, sessions)
            batch.removeAll(keepingCapacity: true)
            for index in written..<batchEnd {
                let started = startMicros + (sessions > 1 ? span * Int64(index) / Int64(sessions) : 0)
                    + Int64(random.next(below: 1_000))
                session.generate(messages: messagesPerSession, startedMicros: started, replies: replies, random: &random)
                let kindRoll = random.next(below: 100)
                let info = SessionInfo(
                    kind: kindRoll < 90 ? .server : kindRoll < 98 ? .proxy : .replay, decoding: .lab, recorder: "populate",
                    clientHost: hosts[Int(random.next(below: UInt64(hosts.count)))],
                    clientPort: 1024 + Int(random.next(below: 64_000)),
                    serverHost: "127.0.0.1", serverPort: 7070, startedMicros: started)
                let recorded = session.messages.enumerated().map { offset, message in
                    RecordedMessage(
                        seq: Int64(offset + 1), atMicros: message.atMicros, sender: message.fromClient ? .client : .server,
                        raw: message.raw, verb: message.verb, payloadRange: message.payloadRange, replyCode: message.replyCode)
                }
                let end = SessionEnd(atMicros: session.endedMicros, reason: session.endReason,
                                     bytesFromClient: session.bytesFromClient, bytesFromServer: session.bytesFromServer,
                                     messageCount: Int64(recorded.count))
                batch.append((CompleteSession(info: info, end: end, messages: recorded), nil))
                messages += recorded.count
            }
            _ = try await store.write(batch)
            written = batchEnd
            progress(written)
        }
        return Result(sessions: written, messages: messages)
    }
}

/// One generated session, its buffers reused from session to session.
struct SyntheticSession {
    struct Message {
        var atMicros: Int64
        var fromClient: Bool
        var raw: [UInt8]
        var verb: String?
        var payloadRange: Range<Int>?
        var replyCode: Int?
    }

    var messages: [Message] = []
    var endedMicros: Int64 = 0
    var endReason: EndReason = .quit
    var bytesFromClient: Int64 = 0
    var bytesFromServer: Int64 = 0

    static let words = ["hello", "world", "temperature", "21.5", "sensor", "ok", "status", "ping", "lab", "report",
                        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "value", "id", "batch", "note"]

    mutating func generate(messages count: Int, startedMicros: Int64, replies: LabReplies, random: inout SplitMix64) {
        messages.removeAll(keepingCapacity: true)
        bytesFromClient = 0
        bytesFromServer = 0
        var now = startedMicros + Int64(random.next(below: 2_000))
        var quitAnswered = false
        let commands = (count + 1) / 2
        // Four sessions in five say QUIT; the others just go away.
        let quits = count % 2 == 0 && random.next(below: 5) > 0
        for index in 0..<commands {
            let command: (raw: [UInt8], verb: String, payload: Range<Int>?, reply: LabReply)
            let roll = random.next(below: 100)
            if index == 0 {
                command = (Array("HELO lab\n".utf8), "HELO", nil, .ok)
            } else if index == commands - 1 && quits {
                command = (Array("QUIT\n".utf8), "QUIT", nil, .bye)
            } else if roll < 85 {
                var line = Array("DATA ".utf8)
                for word in 0..<(1 + Int(random.next(below: 8))) {
                    if word > 0 { line.append(UInt8(ascii: " ")) }
                    line += Array(Self.words[Int(random.next(below: UInt64(Self.words.count)))].utf8)
                }
                let payload = 5..<line.count
                line.append(0x0A)
                command = (line, "DATA", payload, .dataReceived)
            } else if roll < 95 {
                command = (Array("STAT\n".utf8), "STAT", nil, .badCommand)
            } else {
                command = (Array("HELO again\n".utf8), "HELO", nil, .ok)
            }
            messages.append(Message(atMicros: now, fromClient: true, raw: command.raw, verb: command.verb,
                                    payloadRange: command.payload, replyCode: nil))
            bytesFromClient += Int64(command.raw.count)
            guard messages.count < count else { break }
            // Most replies within a millisecond, a few slow ones.
            now += random.next(below: 100) < 97 ? 50 + Int64(random.next(below: 950)) : 1_000 + Int64(random.next(below: 50_000))
            let reply = replies.bytes(for: command.reply)
            messages.append(Message(atMicros: now, fromClient: false, raw: reply, verb: nil, payloadRange: nil,
                                    replyCode: command.reply.code))
            bytesFromServer += Int64(reply.count)
            quitAnswered = command.reply == .bye
            now += 1_000 + Int64(random.next(below: 500_000))
        }
        endedMicros = now
        if quitAnswered {
            endReason = .quit
        } else {
            let roll = random.next(below: 10)
            endReason = roll < 7 ? .clientClosed : roll < 9 ? .idleTimeout : .reset
        }
    }
}

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same database,
/// and a fuzz run can be repeated from its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next(below bound: UInt64) -> UInt64 { next() % bound }
}
