import Foundation

extension TLSDetails {
    /// How stores keep the details: one JSON object, keys in a fixed order, absent facts left out.
    public var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings and enums cannot fail.
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// nil for text that is not such an object (written by a newer wirelog, say).
    public init?(jsonText: String) {
        guard let details = try? JSONDecoder().decode(TLSDetails.self, from: Data(jsonText.utf8)) else { return nil }
        self = details
    }
}
