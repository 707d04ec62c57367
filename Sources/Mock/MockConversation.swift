import LabProtocol
import Listening
import Logging
import NIOCore
import NIORecording
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

    init(configuration: MockConfiguration, script: MockScript, connectionNumber: Int, sink: (any RecordingSink)?,
         logger: Logger) {
        self.configuration = configuration
        self.sink = sink
        self.logger = logger
        // `MockConfiguration.mask` checked the patterns.
        let masking = (try? Masking(patterns: configuration.ignore)) ?? .none
        matcher = RequestMatcher(script: script, order: configuration.order, masking: masking, connectionNumber: connectionNumber)
        lineFraming = configuration.framing != .recorded
        let limits = DecoderLimits(maxLineLength: configuration.maxLineLength)
        let framing: any WireProtocol.Type = configuration.framing == .lab ? LabWireProtocol.self : LinesProtocol.self
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
        forUpstream == nil && (lineFraming ? decoder.hasPending : !pending.isEmpty)
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
            switch matcher.match(pending, complete: complete || pending.count > configuration.maxLineLength) {
            case .answer(let turn, let length):
                answer(Array(pending[..<length]), with: turn, conversation)
                pending.removeFirst(length)
            case .waitForMore:
                return
            case .miss(let closest, let differsAt):
                let missed = pending
                pending.removeAll()
                miss(missed, closest: closest, differsAt: differsAt, conversation)
            }
        }
    }

    /// Runs `step` on the decoder, then answers each line or command it cut, in order.
    private func decode(_ conversation: RecordingHandler, _ step: (inout MessageStream, (DecodedMessage) -> Void) -> Void) {
        step(&decoder) { cut.append($0) }
        for message in cut { answerWhole(Array(message.raw.readableBytesView), conversation) }
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
        switch matcher.match(message, complete: true, whole: true) {
        case .answer(let turn, _):
            answer(message, with: turn, conversation)
        case .miss(let closest, let differsAt):
            miss(message, closest: closest, differsAt: differsAt, conversation)
        case .waitForMore:  // not when complete
            miss(message, closest: nil, differsAt: 0, conversation)
        }
    }

    private func answer(_ request: [UInt8], with turn: MockScript.Turn, _ conversation: RecordingHandler) {
        let recorded = turn.request
        conversation.tape.record(.client, request, verb: recorded.verb,
                                 payloadRange: request == recorded.raw ? turn.requestPayloadRange : nil, answeredBy: recorded.id)
        send(turn.replies, conversation)
        if let reason = turn.closesWith { close(reason, conversation) }
    }

    private func miss(_ bytes: [UInt8], closest: StoredMessage?, differsAt: Int, _ conversation: RecordingHandler) {
        conversation.tape.record(.client, bytes)
        let client = conversation.clientDescription
        let received = Escaping.escape(bytes.prefix(80)) + (bytes.count > 80 ? "…" : "")
        let nearest = closest.map { message in
            "; closest recorded request is message \(message.id) of session \(message.sessionID) \"\(Escaping.escape(message.raw.prefix(80)))\", first different at byte \(differsAt)"
        } ?? "; no recorded request is left to compare (--order \(configuration.order.rawValue))"
        switch configuration.onMiss {
        case .close:
            logger.warning("no recorded request matches \"\(received)\" from \(client)\(nearest); closing (--on-miss close)")
            close(.serverClosed, conversation)
        case .reply(let bytes):
            logger.warning("no recorded request matches \"\(received)\" from \(client)\(nearest); sending the --on-miss reply")
            conversation.send(bytes)
        case .upstream(let host, let port):
            let capture = sink == nil ? "" : ", recording the new exchange as a proxy session"
            logger.warning("no recorded request matches \"\(received)\" from \(client)\(nearest); forwarding the connection to \(host):\(port) from here on\(capture) (--on-miss upstream)")
            forUpstream = bytes
            // The replies scheduled so far go out first (`--pace`), as `close` waits for them.
            conversation.schedule(at: max(lastSendAt, conversation.eventLoop.now)) { conversation in
                self.handOver(to: host, port: port, conversation)
            }
        }
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
            logger.warning("cannot forward the connection from \(conversation.clientDescription) to \(host):\(port) (--on-miss upstream): \(error)")
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
        conversation.send(reply.raw, buffer: reply.buffer, replyCode: reply.replyCode, answeredBy: reply.id)
    }

    /// Closes once every reply scheduled so far has gone out.
    private func close(_ reason: EndReason, _ conversation: RecordingHandler) {
        conversation.finish(reason, notBefore: lastSendAt)
    }
}
