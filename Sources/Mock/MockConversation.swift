import LabProtocol
import Listening
import Logging
import NIOCore
import NIORecording
import Presentation
import Protocols
import Proxy
import Recording
import Replay

/// What `wirelog mock` says to one client: sends the recorded greeting, holds the client's bytes
/// until they are a recorded request (or, with line or lab framing, a whole line or command),
/// answers with that request's recorded replies, and records the conversation as a session of
/// kind mock whose messages name the recorded ones they stand for. After a miss with `--on-miss
/// upstream` it hands the connection over to the proxy's glue (`ProxyConnection`), which carries
/// it on to the real server and records the capture. The connection around it (tape, bounded
/// reads, quiet period, closing after the last reply) is the `RecordingHandler`'s.
///
/// Unmatched bytes are bounded by `maxLineLength` (then they are a miss).
final class MockConversation: ConversationRole {
    private let configuration: MockConfiguration
    private let sink: (any RecordingSink)?
    private let logger: Logger
    private let script: MockScript
    private var matcher: RequestMatcher
    private let lineFraming: Bool
    /// Cuts client bytes into lines or lab commands (`line` and `lab` framing).
    private var decoder: MessageStream
    /// What one step of the decoder cut, answered after it (reused: no allocation per read).
    private var cut: [DecodedMessage] = []
    /// Client bytes not matched yet (`recorded` framing).
    private var pending: [UInt8] = []
    /// Set by a miss with `--on-miss upstream` until the handover: what the client sent from the
    /// miss on (the missed bytes first), for the real server.
    private var forUpstream: [UInt8]?
    private var inputClosedBeforeHandover = false
    /// The connection from the handover on: the proxy's glue, to the `--on-miss upstream` server.
    private(set) var proxied: ProxyConnection?
    /// With `--pace recorded`: when the last reply scheduled so far goes out (replies keep their order).
    private var lastSendAt = NIODeadline.uptimeNanoseconds(0)
    /// What the redaction rules remember of this conversation (as the tape's do of the recording).
    private var redactionState = RedactionState()

    /// HTTP, RESP and PostgreSQL under `--order any`: requests cut by the protocol's decoder and
    /// matched by their fields (`FieldScript`), answers counted across connections.
    private let fieldMatching: FieldMatching?
    /// The prepared statements this client named (PostgreSQL), to know a Bind by its statement.
    private var statements = PostgresStatements()
    /// HTTP and RESP requests this connection sent, by their stored bytes: their shape and the
    /// recorded request they are (nil: none), so a repeated request is not parsed again.
    private var knownRequests: [[UInt8]: (shape: MessageShape, entry: Int?)] = [:]
    private static let maxKnownRequests = 256
    /// An HTTP request head sent alone (Expect: 100-continue), as stored, until its body comes.
    private var heldHead: [UInt8]?

    init(configuration: MockConfiguration, script: MockScript, fieldMatching: FieldMatching?, connectionNumber: Int,
         sink: (any RecordingSink)?, logger: Logger) {
        self.configuration = configuration
        self.sink = sink
        self.logger = logger
        // `MockConfiguration.mask` checked the patterns.
        let masking = (try? Masking(patterns: configuration.ignore)) ?? .none
        matcher = RequestMatcher(script: script, order: configuration.order, masking: masking, connectionNumber: connectionNumber)
        self.fieldMatching = fieldMatching
        lineFraming = configuration.framing != .recorded || fieldMatching != nil
        let limits = DecoderLimits(maxLineLength: configuration.maxLineLength)
        let framing: any WireProtocol.Type
        if let fieldMatching {
            framing = WireProtocols.named(fieldMatching.script.protocolName) ?? RawProtocol.self
        } else {
            framing = configuration.framing == .lab ? LabWireProtocol.self : LinesProtocol.self
        }
        decoder = MessageStream(decoder: framing.makeDecoders(limits: limits).client, limits: limits)
        self.script = script
    }

    /// The connection handler of one mocked client.
    static func handler(_ conversation: MockConversation, configuration: MockConfiguration, sink: (any RecordingSink)?,
                        logger: Logger) -> RecordingHandler {
        RecordingHandler(
            role: conversation, sink: sink,
            limits: ConversationLimits(maxUncommittedBytes: configuration.maxUncommittedBytes, quietPeriod: configuration.quietPeriod),
            logger: logger)
    }

    func sessionInfo(for channel: any Channel) -> SessionInfo {
        .mocked(channel: channel, configuration, script: script)
    }

    func started(_ conversation: RecordingHandler) {
        let (greeting, thenClose) = matcher.greeting
        send(greeting, conversation)
        if let thenClose { close(thenClose, conversation) }
    }

    // MARK: Reading and answering

    func received(_ bytes: ByteBuffer, _ conversation: RecordingHandler) {
        if forUpstream != nil {
            keepForUpstream(Array(bytes.readableBytesView), conversation)
        } else if lineFraming {
            decode(conversation) { decoder, emit in decoder.feed(bytes, emit) }
        } else {
            pending.append(contentsOf: bytes.readableBytesView)
            matchPending(complete: false, conversation)
        }
    }

    /// Bytes that only begin a request (or a line) are complete after a quiet period, as in serve.
    var isHoldingInput: Bool {
        // A decoded protocol's message is whole when its bytes say so, never after a silence.
        forUpstream == nil && fieldMatching == nil && (lineFraming ? decoder.hasPending : !pending.isEmpty)
    }

    func inputWentQuiet(_ conversation: RecordingHandler) {
        completeHeldInput(conversation)
    }

    func inputEnded(_ reason: EndReason, _ conversation: RecordingHandler) {
        guard reason != .shutdown else {
            close(.shutdown, conversation)
            return
        }
        // What the client sent is complete: answer it, then close; or, after a miss that goes
        // upstream, the real server hears it after the bytes and decides when to close.
        completeHeldInput(conversation, atEnd: true)
        if forUpstream != nil {
            inputClosedBeforeHandover = true
        } else {
            close(.clientClosed, conversation)
        }
    }

    /// Not between a miss that goes upstream and the handover.
    var mayRead: Bool { forUpstream == nil }
    /// Recorded answers leave at once (`send`): nothing here waits for a commit.
    var awaitsCommits: Bool { false }

    private func completeHeldInput(_ conversation: RecordingHandler, atEnd: Bool = false) {
        if lineFraming {
            decode(conversation) { decoder, emit in atEnd ? decoder.finish(emit) : decoder.flush(emit) }
        } else {
            matchPending(complete: true, conversation)
        }
    }

    /// Answers every recorded request at the start of `pending`; with `complete`, what is left
    /// after them is a miss.
    private func matchPending(complete: Bool, _ conversation: RecordingHandler) {
        while conversation.isOpen, forUpstream == nil, !pending.isEmpty {
            // The rules' state moves on only over the bytes a match or a miss takes.
            var state = redactionState
            let (stored, spans) = redacted(pending, from: .client, state: &state)
            switch matcher.match(stored, complete: complete || pending.count > configuration.maxLineLength) {
            case .answer(let turn, let length):
                let originalLength = spans.originalLength(ofStoredPrefix: length)
                let request = Array(pending[..<originalLength])
                if originalLength == pending.count {
                    redactionState = state
                } else {
                    _ = redacted(request, from: .client, state: &redactionState)
                }
                answer(request, with: turn, conversation)
                pending.removeFirst(originalLength)
            case .waitForMore:
                return
            case .miss(let closest, let differsAt):
                redactionState = state
                let missed = pending
                pending.removeAll()
                miss(missed, shown: stored, closest: closest, differsAt: differsAt, conversation)
            }
        }
    }

    /// `bytes` as the store holds them (tokens for secrets), what is matched and logged.
    private func redacted(_ bytes: [UInt8], from sender: Sender, state: inout RedactionState) -> (raw: [UInt8], redactions: [RedactedSpan]) {
        configuration.redactor?.redacted(bytes, from: sender, state: &state) ?? (bytes, [])
    }

    /// Runs `step` on the decoder, then answers each line or command it cut, in order.
    private func decode(_ conversation: RecordingHandler, _ step: (inout MessageStream, (DecodedMessage) -> Void) -> Void) {
        step(&decoder) { cut.append($0) }
        for message in cut {
            if fieldMatching != nil {
                answerByFields(message, conversation)
            } else {
                answerWhole(Array(message.raw.readableBytesView), conversation)
            }
        }
        cut.removeAll(keepingCapacity: true)
        // A miss that goes upstream: what the decoder still holds goes after it.
        if forUpstream != nil { decoder.finish { keepForUpstream(Array($0.raw.readableBytesView), conversation) } }
    }

    /// A whole line or command (`line` and `lab` framing): a recorded request, or a miss.
    private func answerWhole(_ message: [UInt8], _ conversation: RecordingHandler) {
        if forUpstream != nil {
            keepForUpstream(message, conversation)
            return
        }
        guard conversation.isOpen else { return }
        let stored = redacted(message, from: .client, state: &redactionState).raw
        switch matcher.match(stored, complete: true, whole: true) {
        case .answer(let turn, _):
            answer(message, with: turn, conversation)
        case .miss(let closest, let differsAt):
            miss(message, shown: stored, closest: closest, differsAt: differsAt, conversation)
        case .waitForMore:  // not when complete
            miss(message, shown: stored, closest: nil, differsAt: 0, conversation)
        }
    }

    private func answer(_ request: [UInt8], with turn: MockScript.Turn, _ conversation: RecordingHandler) {
        let recorded = turn.request
        conversation.tape.record(.client, request, verb: recorded.verb,
                                 payloadRange: request == recorded.raw ? turn.requestPayloadRange : nil, answeredBy: recorded.id)
        send(turn.replies, conversation)
        if let reason = turn.closesWith { close(reason, conversation) }
    }

    /// `shown`: `bytes` redacted, for the log.
    private func miss(_ bytes: [UInt8], shown: [UInt8], closest: StoredMessage?, differsAt: Int, _ conversation: RecordingHandler) {
        let received = Escaping.escape(shown.prefix(80)) + (shown.count > 80 ? "…" : "")
        let nearest = closest.map { message in
            "; closest recorded request is message \(message.id) of session \(message.sessionID) \"\(Escaping.escape(message.raw.prefix(80)))\", first different at byte \(differsAt)"
        } ?? "; no recorded request is left to compare (--order \(configuration.order.rawValue))"
        handleMiss(bytes, explanation: "no recorded request matches \"\(received)\" from \(conversation.clientDescription)\(nearest)",
                   errorReply: nil, conversation)
    }

    /// Logs a miss once and acts as `--on-miss` says; `errorReply` is the protocol's own error
    /// for it (nil: the protocol has none, and `--on-miss error` closes).
    private func handleMiss(_ bytes: [UInt8], explanation: String, errorReply: [UInt8]?, action: MissAction? = nil,
                            _ conversation: RecordingHandler) {
        conversation.tape.record(.client, bytes)
        switch action ?? configuration.onMiss {
        case .error:
            if let errorReply {
                logger.warning("\(explanation); answering with the protocol's error (--on-miss error)")
                conversation.send(errorReply)
            } else {
                logger.warning("\(explanation); closing (--on-miss error, and the protocol has no error reply)")
                close(.serverClosed, conversation)
            }
        case .close:
            logger.warning("\(explanation); closing (--on-miss close)")
            close(.serverClosed, conversation)
        case .reply(let bytes):
            logger.warning("\(explanation); sending the --on-miss reply")
            conversation.send(bytes)
        case .upstream(let host, let port):
            let capture = sink == nil ? "" : ", recording the new exchange as a proxy session"
            logger.warning("\(explanation); forwarding the connection to \(host):\(port) from here on\(capture) (--on-miss upstream)")
            forUpstream = bytes
            // The replies scheduled so far go out first (`--pace`), as `close` waits for them.
            conversation.schedule(at: max(lastSendAt, conversation.eventLoop.now)) { conversation in
                self.handOver(to: host, port: port, conversation)
            }
        }
    }

    // MARK: Matching by fields

    /// One HTTP request, RESP command or PostgreSQL turn: answered by the recorded request that
    /// asks the same (the next of its recorded answers), else a miss that says what differed.
    private func answerByFields(_ message: DecodedMessage, _ conversation: RecordingHandler) {
        guard let fieldMatching else { return }
        let bytes = Array(message.raw.readableBytesView)
        if forUpstream != nil {
            keepForUpstream(bytes, conversation)
            return
        }
        guard conversation.isOpen else { return }
        // Matched as the store holds it: a secret matches its token.
        var stored = redacted(bytes, from: .client, state: &redactionState).raw
        let script = fieldMatching.script
        let decoded = message.decodeError == nil
        let isContinuation = decoded && message.fields[field: "continuation"] != nil
        if isContinuation {
            // The body of a head sent alone is matched with it; any other piece was matched by its first.
            guard let head = heldHead else {
                conversation.tape.record(.client, bytes)
                return
            }
            heldHead = nil
            stored = head + stored
        } else if decoded && answerLogin(message.verb, bytes, script, conversation) {
            return
        }
        // A request this connection sent before (a poller, a load generator) is not read again.
        let known = knownRequests[stored]
        var shape = known?.shape
        if shape == nil && decoded {
            shape = .request(stored, protocolName: script.protocolName, statements: &statements)
        }
        guard let shape else {
            fieldMiss(bytes, shown: stored, shape: nil, reason: "it is not \(script.protocolName)", conversation)
            return
        }
        if script.protocolName == PostgresProtocol.name && shape["messages"] == "X" {
            // Terminate: the client closes next.
            conversation.tape.record(.client, bytes)
            return
        }
        if !isContinuation && script.protocolName == HTTP1Protocol.name && HTTPExpectation.awaitsBody(shape) {
            // Expect: 100-continue: the body comes once we say so, and the request is matched with it.
            conversation.tape.record(.client, bytes)
            conversation.send(HTTPExpectation.continueResponse)
            heldHead = stored
            return
        }
        let matched = known.map(\.entry) ?? script.entry(forKey: shape.matchKey(script.rules))
        // Not PostgreSQL's: a Bind means what this connection's Parse of that name said.
        if known == nil, script.protocolName != PostgresProtocol.name, knownRequests.count < Self.maxKnownRequests {
            knownRequests[stored] = (shape, matched)
        }
        guard let entryIndex = matched else {
            let reason = script.closest(to: shape).map { closest in
                let recorded = closest.entry.answers[0].request
                let differences = closest.differences.prefix(5).map { difference in
                    "\(difference.name) (recorded \(difference.shownExpected), got \(difference.shownActual))"
                }.joined(separator: ", ")
                return "closest recorded request is \(Self.summary(closest.entry.shape)) (message \(recorded.id) of session \(recorded.sessionID)), which differs in \(differences)"
            } ?? "nothing was recorded"
            fieldMiss(bytes, shown: stored, shape: shape, reason: reason, conversation)
            return
        }
        let entry = script.entries[entryIndex]
        guard let recording = fieldMatching.answers.take(entryIndex, recordings: entry.answers.count, whenExhausted: configuration.whenExhausted)
        else {
            fieldMiss(bytes, shown: stored, shape: shape,
                      reason: "each of its \(counted(entry.answers.count, "recorded answer")) was given (--when-exhausted miss)", conversation)
            return
        }
        MockMeters.hits.increment()
        let turn = entry.answers[recording]
        if configuration.explain {
            let count = entry.answers.count
            let ties = count > 1
                ? "; \(count) recordings ask the same, answered in recorded order (this is \(recording + 1) of \(count)\(recording + 1 == count ? ", repeated from here on" : ""))"
                : ""
            logger.info("\(Self.summary(shape)) from \(conversation.clientDescription): answered by message \(turn.request.id) of session \(turn.request.sessionID)\(ties)")
        }
        answer(bytes, with: turn, conversation)
    }

    /// A PostgreSQL login the mock performs itself: TLS refused, any user let in without a
    /// password, with the recorded parameters. False for any other message.
    private func answerLogin(_ verb: String?, _ bytes: [UInt8], _ script: FieldScript, _ conversation: RecordingHandler) -> Bool {
        guard script.protocolName == PostgresProtocol.name else { return false }
        switch verb {
        case "SSLRequest", "GSSENCRequest":
            conversation.tape.record(.client, bytes, verb: verb)
            conversation.send(PostgresWire.refusal)
        case "StartupMessage":
            conversation.tape.record(.client, bytes, verb: verb)
            if configuration.explain { logger.info("login from \(conversation.clientDescription): answered by the mock (trust) with the recorded parameters") }
            conversation.send(PostgresWire.login(script.postgresLoginMessages))
        case "CancelRequest":
            conversation.tape.record(.client, bytes, verb: verb)
            close(.clientClosed, conversation)
        default:
            return false
        }
        return true
    }

    /// A request nothing recorded answers: logged, and answered with the protocol's error.
    private func fieldMiss(_ bytes: [UInt8], shown: [UInt8], shape: MessageShape?, reason: String, _ conversation: RecordingHandler) {
        MockMeters.misses.increment()
        let asked = shape.map(Self.summary) ?? "\"" + Escaping.escape(shown.prefix(80)) + (shown.count > 80 ? "…" : "") + "\""
        let text = "wirelog mock: no recorded reply for \(asked); \(reason)"
        let errorReply: [UInt8]
        switch fieldMatching?.script.protocolName {
        case HTTP1Protocol.name?:
            errorReply = HTTP1Protocol.textResponse("501 Not Implemented", body: text + "\n", closing: false)
        case RESPProtocol.name?:
            errorReply = Array("-ERR \(text.map { $0 == "\r" || $0 == "\n" ? " " : String($0) }.joined())\r\n".utf8)
        default:
            let messages = shape?["messages"] ?? "S"
            errorReply = PostgresProtocol.errorResponse(sqlstate: PostgresWire.missSQLState, message: text, ready: messages.hasSuffix("S") || messages.hasSuffix("Q"))
        }
        var explanation = "\(text) (from \(conversation.clientDescription))"
        var action = configuration.onMiss
        if case .upstream = action, fieldMatching?.script.protocolName == PostgresProtocol.name {
            // The real server never saw this connection's login: it cannot carry it on.
            explanation += "; --on-miss upstream cannot carry on a PostgreSQL connection the mock logged in"
            action = .error
        }
        handleMiss(bytes, explanation: explanation, errorReply: errorReply, action: action, conversation)
    }

    /// A request as its users write it: `GET /users?id=1`, `SET greeting hello`, a statement and its parameters.
    static func summary(_ shape: MessageShape) -> String {
        let text: String
        if let method = shape["method"] {
            let query = shape.fields.filter { $0.name.hasPrefix("query ") }.map { "\($0.name.dropFirst(6))=\($0.value)" }
            text = "\(method) \(shape["path"] ?? "")" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        } else if let command = shape["command"] {
            text = ([command] + shape.fields.dropFirst().map(\.value)).joined(separator: " ")
        } else {
            let parameters = shape.fields.filter { $0.name.contains("parameter ") }.map(\.value)
            text = (shape["statement"] ?? "(\(shape["messages"] ?? ""))") + (parameters.isEmpty ? "" : " with (\(parameters.joined(separator: ", ")))")
        }
        let escaped = Escaping.escape(Array(text.utf8))
        return escaped.count > 200 ? String(escaped.prefix(200)) + "…" : escaped
    }


    /// Client bytes past a miss that goes upstream: recorded in the mock's session (no recorded
    /// message behind them) and kept for the handover.
    private func keepForUpstream(_ bytes: [UInt8], _ conversation: RecordingHandler) {
        conversation.tape.record(.client, bytes)
        forUpstream?.append(contentsOf: bytes)
    }

    /// Swaps the mock for the proxy's glue, which sends what was kept (and the end of input)
    /// upstream first. The mock's session ends when the proxied one does, for the same reason.
    private func handOver(to host: String, port: Int, _ conversation: RecordingHandler) {
        guard conversation.isOpen, let bytes = forUpstream else { return }
        var proxy = ProxyConfiguration(upstreamHost: host, upstreamPort: port)
        proxy.connectTimeout = configuration.connectTimeout
        proxy.recorderName = configuration.recorderName
        proxy.maxUncommittedBytes = configuration.maxUncommittedBytes
        let connection = ProxyConnection(configuration: proxy, sink: sink, logger: logger, eventLoop: conversation.eventLoop)
        do {
            try conversation.handOver { context in
                try connection.adopt(clientContext: context, pendingBytes: context.channel.allocator.buffer(bytes: bytes),
                                     inputClosed: inputClosedBeforeHandover)
            }
        } catch {
            logger.warning("cannot forward the connection from \(conversation.clientDescription) to \(host):\(port) (--on-miss upstream): \(NetworkErrorText.reason(error))")
            conversation.close(.error)
            return
        }
        forUpstream = nil
        proxied = connection
        let tape = conversation.tape
        connection.endedFuture.assumeIsolated().whenSuccess { tape.end($0) }
    }

    // MARK: Writing

    /// Sends `replies` now, or as long after now as they were recorded after their request (`--pace`).
    private func send(_ replies: [MockScript.Reply], _ conversation: RecordingHandler) {
        guard case .recorded(let speed) = configuration.pace else {
            for reply in replies { send(reply, conversation) }
            return
        }
        let now = conversation.eventLoop.now
        for reply in replies {
            let at = max(now + .nanoseconds(Int64(Double(reply.delayMicros) * 1_000 / speed)), lastSendAt)
            lastSendAt = at
            conversation.schedule(at: at) { conversation in self.send(reply, conversation) }
        }
    }

    /// Sends a recorded reply (its buffer is made once, with the script) and records it.
    private func send(_ reply: MockScript.Reply, _ conversation: RecordingHandler) {
        // The rules read replies too (an SMTP 334 asks for more of a secret).
        _ = redacted(reply.raw, from: .server, state: &redactionState)
        conversation.send(reply.raw, buffer: reply.buffer, replyCode: reply.replyCode, answeredBy: reply.id)
    }

    /// Closes once every reply scheduled so far has gone out.
    private func close(_ reason: EndReason, _ conversation: RecordingHandler) {
        conversation.finish(reason, notBefore: lastSendAt)
    }
}
