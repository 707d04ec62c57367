import LabProtocol
import Recording

/// One message cut from a direction's stream. `raw` is valid only inside the callback.
package struct DecodedMessage {
    package var raw: UnsafeRawBufferPointer
    package var verb: String? = nil
    package var payloadRange: Range<Int>? = nil
    package var replyCode: Int? = nil
}

/// Cuts one direction of a proxied connection into the messages that get recorded.
///
/// Whatever the decoding, the raw bytes of the messages handed out concatenate to exactly
/// the bytes fed, in order: nothing is dropped, an overlong line is handed out in pieces.
/// Memory is bounded by the line limit (twice it for a held 4xx status line).
/// `wirelog mock --framing line|lab` cuts client bytes with it too.
package struct StreamDecoder {
    private enum Mode {
        case raw, lines, labCommands, labReplies
    }

    private let mode: Mode
    private var splitter: LineSplitter
    private var parser = LabCommandParser()
    /// The status line of a two-line 4xx reply, waiting for its second line.
    private var heldStatusLine: [UInt8] = []

    package init(decoding: Decoding, sender: Sender, maxLineLength: Int) {
        switch decoding {
        case .raw: mode = .raw
        case .lines: mode = .lines
        case .lab: mode = sender == .client ? .labCommands : .labReplies
        }
        splitter = LineSplitter(maxLineLength: maxLineLength)
    }

    /// Bytes of a line that a quiet period would complete.
    package var hasUnterminatedLine: Bool { splitter.pendingByteCount > 0 || !heldStatusLine.isEmpty }

    /// Anything held back at all (an unterminated line, a bare DATA awaiting its payload line).
    package var hasPending: Bool { hasUnterminatedLine || parser.isAwaitingPayload }

    package mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (DecodedMessage) -> Void) {
        guard !bytes.isEmpty else { return }
        if case .raw = mode {
            emit(DecodedMessage(raw: bytes))
            return
        }
        var splitter = takeSplitter()
        splitter.feed(bytes) { piece in handle(piece, emit) }
        self.splitter = splitter
    }

    /// A quiet period passed: the unterminated line is complete. As in `wirelog serve`, a
    /// bare DATA keeps waiting for its payload line.
    package mutating func flush(_ emit: (DecodedMessage) -> Void) {
        var splitter = takeSplitter()
        splitter.flush { piece in handle(piece, emit) }
        self.splitter = splitter
        emitHeldStatusLine(emit)
    }

    /// The direction ended, or the other side spoke: everything held is complete.
    package mutating func finish(_ emit: (DecodedMessage) -> Void) {
        flush(emit)
        parser.finish { command, raw in
            emit(DecodedMessage(raw: raw, verb: command.verbText))
        }
    }

    /// Moves the splitter out of `self` (no copy of its buffer), so that the pieces it hands
    /// out can update the rest of `self`; the caller puts it back.
    private mutating func takeSplitter() -> LineSplitter {
        var splitter = LineSplitter(maxLineLength: self.splitter.maxLineLength)
        swap(&splitter, &self.splitter)
        return splitter
    }

    private mutating func handle(_ piece: LinePiece, _ emit: (DecodedMessage) -> Void) {
        switch mode {
        case .raw, .lines:
            emit(DecodedMessage(raw: piece.raw))
        case .labCommands:
            command(piece, emit)
        case .labReplies:
            reply(piece, emit)
        }
    }

    private mutating func command(_ piece: LinePiece, _ emit: (DecodedMessage) -> Void) {
        if piece.kind == .overlong {
            // Not a command the lab knows; recorded as it came, after a DATA still waiting for it.
            parser.finish { command, raw in emit(DecodedMessage(raw: raw, verb: command.verbText)) }
            emit(DecodedMessage(raw: piece.raw))
            return
        }
        parser.parse(piece) { step in
            guard case .command(let command, let raw) = step else { return }
            emit(DecodedMessage(raw: raw, verb: command.verbText, payloadRange: command.payloadRange))
        }
    }

    private mutating func reply(_ piece: LinePiece, _ emit: (DecodedMessage) -> Void) {
        if !heldStatusLine.isEmpty {
            if piece.kind == .overlong {
                emitHeldStatusLine(emit)
                emit(DecodedMessage(raw: piece.raw))
            } else {
                // The second line of a 4xx reply (or what came of it before a close).
                heldStatusLine.append(contentsOf: piece.raw)
                emitHeldStatusLine(emit)
            }
            return
        }
        guard piece.kind != .overlong else {
            emit(DecodedMessage(raw: piece.raw))
            return
        }
        let code = LabReply.statusCode(of: piece.raw)
        if piece.kind == .terminated, let code, LabReply.lineCount(statusCode: code) == 2 {
            heldStatusLine.append(contentsOf: piece.raw)
        } else {
            emit(DecodedMessage(raw: piece.raw, replyCode: code))
        }
    }

    private mutating func emitHeldStatusLine(_ emit: (DecodedMessage) -> Void) {
        guard !heldStatusLine.isEmpty else { return }
        heldStatusLine.withUnsafeBytes { raw in
            emit(DecodedMessage(raw: raw, replyCode: LabReply.statusCode(of: raw)))
        }
        heldStatusLine.removeAll(keepingCapacity: true)
    }
}
