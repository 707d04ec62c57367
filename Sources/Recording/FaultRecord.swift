import Foundation

/// What one toxic did to a session (docs/FAULTS.md): which toxic, when, in which direction, and
/// what it did, so a failure recorded under a fault carries its cause. Stored with the session as
/// one JSON array (`sessions.faults`), shown by `sessions show` and exported with the session.
public struct FaultRecord: Sendable, Equatable, Codable {
    public var atMicros: Int64
    /// The toxic's name.
    public var toxic: String
    public var type: String
    /// Its type and settings as `latency:latency=100,jitter=10,stream=downstream`.
    public var settings: String
    /// `upstream` (client → server) or `downstream` (server → client).
    public var direction: String
    public var what: String

    public init(atMicros: Int64, toxic: String, type: String, settings: String, direction: String, what: String) {
        self.atMicros = atMicros
        self.toxic = toxic
        self.type = type
        self.settings = settings
        self.direction = direction
        self.what = what
    }

    enum CodingKeys: String, CodingKey {
        case atMicros = "at_us", toxic, type, settings, direction, what
    }
}

extension [FaultRecord] {
    /// How stores keep a session's faults: one JSON array, keys sorted.
    public var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("[]".utf8), as: UTF8.self)
    }

    /// Empty for NULL or text that is not such an array (written by a newer wirelog, say).
    public init(jsonText: String?) {
        self = jsonText.flatMap { try? JSONDecoder().decode([FaultRecord].self, from: Data($0.utf8)) } ?? []
    }
}
