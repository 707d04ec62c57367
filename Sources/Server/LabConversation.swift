import LabProtocol
import Listening
import Logging
import NIOCore
import NIORecording
import Presentation
import Recording

/// What `wirelog serve` says to one client: frames its lines, answers lab commands, and records
/// every command and reply. The connection around it is the `RecordingHandler`'s, which sends
/// each reply only once its command is committed and holds back reads while too many commands or
/// bytes wait for a commit.
final class LabConversation: ConversationRole {
    private let configuration: ServerConfiguration
    private let replies: LabReplies
    private var splitter: LineSplitter
    private var parser = LabCommandParser()

    init(configuration: ServerConfiguration, replies: LabReplies) {
        self.configuration = configuration
        self.replies = replies
        self.splitter = LineSplitter(maxLineLength: configuration.maxLineLength)
    }

    /// The connection handler of one served client.
    static func handler(configuration: ServerConfiguration, replies: LabReplies, sink: (any RecordingSink)?,
                        logger: Logger) -> RecordingHandler {
        RecordingHandler(
            role: LabConversation(configuration: configuration, replies: replies),
            sink: configuration.recording ? sink : nil,
            limits: ConversationLimits(
                maxUncommittedBytes: configuration.maxUnacknowledgedBytes,
                maxRepliesAwaitingCommit: configuration.maxUnacknowledgedCommands,
                quietPeriod: configuration.quietPeriod, idleTimeout: configuration.idleTimeout),
            logger: logger)
    }

    func sessionInfo(for channel: any Channel) -> SessionInfo {
        .served(channel: channel, recorder: configuration.recorderName)
    }

    func received(_ bytes: ByteBuffer, _ conversation: RecordingHandler) {
        bytes.withUnsafeReadableBytes { bytes in
            splitter.feed(bytes) { piece in handle(piece, conversation) }
        }
    }

    /// An unterminated line followed by silence is a whole command (lab clients send no LF); a bare
    /// DATA waits through the quiet period for its payload line.
    var isHoldingInput: Bool {
        configuration.framing == .auto && (splitter.pendingByteCount > 0 || parser.isAwaitingPayload)
    }

    func inputWentQuiet(_ conversation: RecordingHandler) {
        splitter.flush { piece in handle(piece, conversation) }
    }

    func inputEnded(_ reason: EndReason, _ conversation: RecordingHandler) {
        // What was received counts: a partial line and a bare DATA are answered too.
        splitter.flush { piece in handle(piece, conversation) }
        guard conversation.isOpen else { return }
        parser.finish { command, raw in
            self.command(raw: raw, verb: command.verbText, payloadRange: nil, reply: command.reply, conversation)
        }
        conversation.finish(reason)
    }

    func recordingFailed(_ reason: String, _ conversation: RecordingHandler) {
        // Nothing uncommitted may be acknowledged: tell the client and hang up.
        conversation.send(replies.bytes(for: .notRecorded), recorded: false)
        conversation.finish(.storageError)
    }

    private func handle(_ piece: LinePiece, _ conversation: RecordingHandler) {
        guard conversation.isOpen else { return }
        if piece.kind == .overlong {
            // After a bare DATA the overlong line is its payload: one command, one reply, no byte left out.
            let raw = parser.takeAwaitingDataLine() + piece.raw
            raw.withUnsafeBytes {
                command(raw: $0, verb: nil, payloadRange: nil, reply: .lineTooLong(limit: configuration.maxLineLength), conversation)
            }
            conversation.finish(.lineTooLong)
            conversation.logger.info("closing the connection from \(conversation.clientDescription): a line longer than \(counted(configuration.maxLineLength, "byte")) (--max-line)")
            return
        }
        parser.parse(piece) { step in
            guard case .command(let command, let raw) = step else { return }
            self.command(raw: raw, verb: command.verbText, payloadRange: command.payloadRange, reply: command.reply, conversation)
            if command.verb == .quit { conversation.finish(.quit) }
        }
    }

    /// Records a client command; its reply leaves once the command is committed.
    private func command(raw: UnsafeRawBufferPointer, verb: String?, payloadRange: Range<Int>?, reply: LabReply,
                         _ conversation: RecordingHandler) {
        let seq = conversation.tape.record(.client, Array(raw), verb: verb, payloadRange: payloadRange)
        conversation.sendWhenCommitted(replies.bytes(for: reply), replyCode: reply.code, answering: seq)
    }
}

extension SessionInfo {
    static func served(channel: any Channel, recorder: String, startedMicros: Int64 = WallClock.nowMicros()) -> SessionInfo {
        SessionInfo(
            kind: .server, decoding: .lab, recorder: recorder,
            clientHost: channel.remoteAddress?.ipAddress ?? "unknown", clientPort: channel.remoteAddress?.port ?? 0,
            serverHost: channel.localAddress?.ipAddress ?? "unknown", serverPort: channel.localAddress?.port ?? 0,
            startedMicros: startedMicros)
    }
}
