/// A field a protocol decoder read out of a message: `method`, `status`, `command`, `sqlstate`…
/// Stored beside the message's exact bytes as one JSON object (`messages.fields`), in the
/// decoder's order; docs/PROTOCOLS.md lists each protocol's names.
public struct MessageField: Sendable, Equatable {
    public var name: String
    public var value: FieldValue

    public init(_ name: String, _ value: FieldValue) {
        self.name = name
        self.value = value
    }
}

public enum FieldValue: Sendable, Equatable {
    case text(String)
    case integer(Int64)
    case bool(Bool)

    public var text: String? {
        if case .text(let text) = self { return text }
        return nil
    }

    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }
}

extension Array where Element == MessageField {
    /// The value of the first field called `name`.
    public subscript(field name: String) -> FieldValue? {
        first { $0.name == name }?.value
    }
}

/// A request paired with the response that completed it, attached to that response message.
/// Stored as a row of `exchanges` beside the messages (docs/SCHEMA.md): what `list`, `stats`
/// and HAR ask about a session without reading its bytes.
public struct RecordedExchange: Sendable, Equatable {
    /// The decoding that paired them: `http`, `resp`, `postgres`.
    public var protocolName: String
    public var requestSeq: Int64
    /// First request byte to last response byte.
    public var startedMicros: Int64
    public var durationMicros: Int64
    /// HTTP method, RESP command, PostgreSQL statement kind (`SELECT`, `BEGIN`…).
    public var method: String?
    /// HTTP request target, RESP first key, PostgreSQL statement text.
    public var target: String?
    /// HTTP status.
    public var status: Int?
    /// HTTP reason phrase, RESP reply type, PostgreSQL command tag.
    public var outcome: String?
    /// RESP error prefix (`ERR`, `WRONGTYPE`), PostgreSQL SQLSTATE; nil when the request succeeded
    /// (an HTTP error is its status).
    public var error: String?

    public init(protocolName: String, requestSeq: Int64, startedMicros: Int64, durationMicros: Int64,
                method: String? = nil, target: String? = nil, status: Int? = nil, outcome: String? = nil, error: String? = nil) {
        self.protocolName = protocolName
        self.requestSeq = requestSeq
        self.startedMicros = startedMicros
        self.durationMicros = durationMicros
        self.method = method
        self.target = target
        self.status = status
        self.outcome = outcome
        self.error = error
    }
}
