import Backends
import Recording
import SQLiteBackend

/// A session row as stored, read back with plain SQL for assertions.
public struct SessionRow: Sendable, Equatable {
    public var id: Int64
    public var kind: String
    public var decoding: String
    public var clientHost: String
    public var clientPort: Int
    public var serverHost: String
    public var serverPort: Int
    public var startedMicros: Int64
    public var endedMicros: Int64?
    public var endReason: String?
    public var bytesFromClient: Int64
    public var bytesFromServer: Int64
    public var messageCount: Int64
}

/// A message row as stored.
public struct MessageRow: Sendable, Equatable {
    public var sessionID: Int64
    public var seq: Int64
    public var atMicros: Int64
    public var sender: String
    public var raw: [UInt8]
    public var verb: String?
    public var payload: [UInt8]?
    public var replyCode: Int?

    public var rawText: String { String(decoding: raw, as: UTF8.self) }
}

/// What a store holds, read back through the store API (any backend) for assertions.
public enum RecordedRows {
    public static func sessions(_ path: String) async throws -> [SessionRow] {
        try await sessions(.sqlite(path: path))
    }

    public static func sessions(_ location: StoreLocation) async throws -> [SessionRow] {
        try await location.withStore(.read) { store in
            try await store.list(SessionFilter(), limit: Int(Int32.max)).sorted { $0.id < $1.id }.map { session in
                SessionRow(
                id: session.id, kind: session.kind, decoding: session.decoding,
                clientHost: session.clientHost, clientPort: session.clientPort,
                serverHost: session.serverHost, serverPort: session.serverPort,
                startedMicros: session.startedMicros, endedMicros: session.endedMicros, endReason: session.endReason,
                bytesFromClient: session.bytesFromClient, bytesFromServer: session.bytesFromServer,
                messageCount: session.messageCount)
            }
        }
    }

    /// Messages of one session (or all, in session then seq order).
    public static func messages(_ path: String, session: Int64? = nil) async throws -> [MessageRow] {
        try await messages(.sqlite(path: path), session: session)
    }

    public static func messages(_ location: StoreLocation, session: Int64? = nil) async throws -> [MessageRow] {
        try await location.withStore(.read) { store in
            var ids = try await store.list(SessionFilter(), limit: Int(Int32.max)).map(\.id).sorted()
            if let session { ids = [session] }
            var rows: [MessageRow] = []
            for id in ids {
                try await store.forEachMessage(ofSession: id) { message in
                    rows.append(MessageRow(
                        sessionID: message.sessionID, seq: message.seq, atMicros: message.atMicros,
                        sender: message.sender.rawValue, raw: message.raw, verb: message.verb,
                        payload: message.payload, replyCode: message.replyCode))
                }
            }
            return rows.sorted { ($0.sessionID, $0.seq) < ($1.sessionID, $1.seq) }
        }
    }

    /// `PRAGMA integrity_check`'s answer ("ok" when the file is sound).
    public static func integrityCheck(_ path: String) throws -> String {
        let db = try Database(path: path, mode: .readOnly)
        return try db.scalarText("PRAGMA integrity_check") ?? "no answer"
    }
}
