import Foundation
import Logging
import Recording

/// `--log-format json`: one JSON object per line on standard error, with `time` (RFC 3339, UTC,
/// milliseconds), `level`, `label`, `message` and, when there is any, `metadata` (values as
/// strings, lists and objects), for Loki, journald or jq.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable (String) -> Void

    /// `write` takes each line, newline included (standard error by default).
    public init(label: String, write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
                    file: String, function: String, line: UInt) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let explicit { merged.merge(explicit) { _, new in new } }
        var text = "{\"time\":\(JSONText.quoted(Self.timestamp(Date()))),\"level\":\(JSONText.quoted(level.rawValue))"
        text += ",\"label\":\(JSONText.quoted(label)),\"message\":\(JSONText.quoted(message.description))"
        if !merged.isEmpty { text += ",\"metadata\":" + Self.json(.dictionary(merged)) }
        // One write per line: lines from several threads do not interleave.
        write(text + "}\n")
    }

    private static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): JSONText.quoted(string)
        case .stringConvertible(let convertible): JSONText.quoted(convertible.description)
        case .array(let values): "[" + values.map(json).joined(separator: ",") + "]"
        case .dictionary(let entries):
            "{" + entries.sorted { $0.key < $1.key }.map { JSONText.quoted($0.key) + ":" + json($0.value) }.joined(separator: ",") + "}"
        }
    }

    private static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
