import Recording

/// What `sessions export` and the web viewer's downloads write.
public enum ExportFormat: String, Sendable, CaseIterable {
    /// One array of session documents, each with its messages.
    case json
    /// Per session one `session` line, then one `message` line per message.
    case ndjson
    /// A classic pcap file, one synthetic TCP stream per session.
    case pcap
    /// HAR 1.2: one entry per HTTP exchange of the sessions decoded as `http`.
    case har
    /// The client's bytes, exactly, one session after the other.
    case clientBytes = "client-bytes"
    /// The server's bytes, exactly.
    case serverBytes = "server-bytes"
}

/// Writes sessions in an `ExportFormat`, a piece at a time (a session's messages are read a page
/// at a time), to wherever `output` sends the bytes: a file, standard output, an HTTP body.
public struct SessionExporter: Sendable {
    public let store: any RecordingStore

    public init(store: any RecordingStore) {
        self.store = store
    }

    public func write(_ sessions: [SessionSummary], as format: ExportFormat,
                      to output: ([UInt8]) async throws -> Void) async throws {
        switch format {
        case .json:
            try await output(Array("[".utf8))
            for (index, session) in sessions.enumerated() {
                var messages: [MessageJSON] = []
                try await store.forEachMessage(ofSession: session.id) {
                    messages.append(MessageJSON($0, sessionStartedMicros: session.startedMicros))
                }
                try await output(Array(((index > 0 ? ",\n" : "") + JSONOutput.line(SessionJSON(session, messages: messages))).utf8))
            }
            try await output(Array("]\n".utf8))
        case .ndjson:
            for session in sessions {
                try await output(Array((try JSONOutput.line(SessionJSON(session)) + "\n").utf8))
                try await store.forEachMessage(ofSession: session.id) {
                    try await output(Array((try JSONOutput.line(MessageJSON($0, sessionStartedMicros: session.startedMicros)) + "\n").utf8))
                }
            }
        case .pcap:
            var writer = PcapWriter()
            for session in sessions {
                let (client, server) = PcapWriter.endpoints(
                    clientHost: session.clientHost, clientPort: session.clientPort,
                    serverHost: session.serverHost, serverPort: session.serverPort)
                let messages = try await store.messages(ofSession: session.id).lazy.map {
                    PcapWriter.Message(atMicros: $0.atMicros, fromClient: $0.sender == .client, raw: $0.raw)
                }
                writer.addSession(client: client, server: server, startedMicros: session.startedMicros,
                                  endedMicros: session.endedMicros, opening: Self.opening(session), messages: messages)
                try await output(writer.take())
            }
        case .har:
            var har = HARWriter()
            for session in sessions where session.decoding == "http" {
                har.add(session, messages: try await store.messages(ofSession: session.id))
            }
            try await output(try har.document())
        case .clientBytes, .serverBytes:
            let sender: Sender = format == .clientBytes ? .client : .server
            for session in sessions {
                try await store.forEachMessage(ofSession: session.id) { message in
                    if message.sender == sender { try await output(message.raw) }
                }
            }
        }
    }

    /// A proxy records an upstream that refused or never answered as the session's end reason.
    private static func opening(_ session: SessionSummary) -> PcapWriter.Opening {
        switch session.endReason.flatMap(EndReason.init(rawValue:)) {
        case .upstreamRefused: .refused
        case .upstreamTimeout: .unanswered
        default: .established
        }
    }
}
