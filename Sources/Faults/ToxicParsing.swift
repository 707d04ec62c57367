import Foundation
import Protocols

/// Toxics from what people and programs write: toxiproxy's JSON (the API, `--faults`) and the
/// `--fault` one-liner. Bad input is toxiproxy's status and one-line message.
public enum ToxicParsing {
    /// A JSON body as toxiproxy reads it: malformed text is its `bad request body`.
    public static func json(_ bytes: some Collection<UInt8>) throws(FaultError) -> Any {
        do {
            return try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw .badRequestBody(bytes.isEmpty ? "EOF" : "malformed JSON")
        }
    }

    /// A new toxic (`POST /proxies/{proxy}/toxics`), with toxiproxy's defaults: stream
    /// downstream, toxicity 1, name `type_stream`.
    public static func toxic(_ json: Any) throws(FaultError) -> Toxic {
        guard let object = json as? [String: Any] else { throw .badRequestBody("a toxic is a JSON object") }
        var stream = ToxicStream.downstream
        if let text = try string(object, "stream") {
            // toxiproxy reads the stream case-insensitively.
            guard let parsed = ToxicStream(rawValue: text.lowercased()) else { throw .invalidStream }
            stream = parsed
        }
        guard let typeName = object["type"] as? String, let type = ToxicType(rawValue: typeName) else { throw .invalidToxicType }
        var name = try string(object, "name")
        if name?.isEmpty == true { name = nil }
        var toxic = Toxic(name: name, type: type, stream: stream)
        try apply(object, to: &toxic)
        return toxic
    }

    /// An update (`PATCH /proxies/{proxy}/toxics/{toxic}`): the attributes and toxicity it
    /// names change, the rest stay (type, stream and name cannot change, as in toxiproxy).
    public static func update(_ toxic: Toxic, with json: Any) throws(FaultError) -> Toxic {
        guard let object = json as? [String: Any] else { throw .badRequestBody("an update is a JSON object") }
        var updated = toxic
        try apply(object, to: &updated)
        return updated
    }

    private static func apply(_ object: [String: Any], to toxic: inout Toxic) throws(FaultError) {
        if let value = object["toxicity"], !(value is NSNull) {
            guard let number = value as? NSNumber, !isBool(number) else { throw .badRequestBody("toxicity must be a number") }
            let toxicity = number.doubleValue
            guard (0...1).contains(toxicity) else { throw .badRequestBody("toxicity must be between 0 and 1, not \(number)") }
            toxic.toxicity = toxicity
        }
        if let value = object["attributes"], !(value is NSNull) {
            guard let attributes = value as? [String: Any] else { throw .badRequestBody("attributes must be a JSON object") }
            for (key, value) in attributes.sorted(by: { $0.key < $1.key }) {
                guard toxic.type.attributeNames.contains(key) else {
                    throw .badRequestBody("\(toxic.type.rawValue) has no attribute \(key) (it has \(toxic.type.attributeNames.joined(separator: ", ")))")
                }
                if toxic.type.textDefaults[key] != nil {
                    guard let text = value as? String else { throw .badRequestBody("\(key) must be a string") }
                    toxic.attributes[key] = .text(text)
                } else {
                    toxic.attributes[key] = .number(try whole(value, key))
                }
            }
        }
        if let value = object["condition"], !(value is NSNull) {
            guard let condition = value as? [String: Any] else { throw .badRequestBody("condition must be a JSON object") }
            let known = ["client"] + RequestCondition.fields.map(\.name)
            for key in condition.keys.sorted() where !known.contains(key) {
                throw .badRequestBody("unknown condition \(key) (there are \(known.joined(separator: ", ")))")
            }
            // A condition replaces the one before, whole.
            toxic.clients = nil
            if let client = condition["client"] {
                guard let text = client as? String, let range = ClientCondition(text) else {
                    throw .badRequestBody("condition client must be an address or CIDR range such as 10.0.0.0/8")
                }
                toxic.clients = range
            }
            var patterns: [String: String] = [:]
            for field in RequestCondition.fields.map(\.name) {
                guard let pattern = condition[field] else { continue }
                guard let text = pattern as? String, !text.isEmpty else { throw .badRequestBody("condition \(field) must be a pattern such as /api/*") }
                patterns[field] = text
            }
            toxic.requests = RequestCondition(patterns)
        }
        try validate(toxic)
    }

    private static func whole(_ value: Any, _ key: String) throws(FaultError) -> Int64 {
        guard let number = value as? NSNumber, !isBool(number), number.doubleValue == number.doubleValue.rounded(),
              abs(number.doubleValue) < 9e18 else {
            throw .badRequestBody("\(key) must be a whole number")
        }
        guard number.int64Value >= 0 else { throw .badRequestBody("\(key) must not be negative, not \(number.int64Value)") }
        return number.int64Value
    }

    /// A JSON string member; nil when absent or null.
    public static func string(_ object: [String: Any], _ key: String) throws(FaultError) -> String? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let text = value as? String else { throw .badRequestBody("\(key) must be a string") }
        return text
    }

    /// A JSON true or false member; nil when absent or null.
    public static func bool(_ object: [String: Any], _ key: String) throws(FaultError) -> Bool? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, isBool(number) else { throw .badRequestBody("\(key) must be true or false") }
        return number.boolValue
    }

    private static func isBool(_ number: NSNumber) -> Bool {
        // JSON's true and false arrive as NSNumbers of type char.
        String(cString: number.objCType) == "c"
    }

    static func validate(_ toxic: Toxic) throws(FaultError) {
        if toxic.type.readsRequests, toxic.stream != .upstream {
            throw .badRequestBody("\(toxic.type.rawValue) reads requests: its stream is upstream")
        }
        if !toxic.requests.isEmpty {
            guard toxic.type.readsRequests else {
                throw .badRequestBody("conditions on requests apply to toxics that read them (http_status, resp_error, pg_error, drop_after)")
            }
            let fields = RequestCondition.fields.filter { field in toxic.type.requestProtocol.map { $0.name == field.protocol } ?? true }
            for (field, _) in toxic.requests.patterns where !fields.contains(where: { $0.name == field }) {
                throw .badRequestBody("\(toxic.type.rawValue) requests have no \(field) (they have \(fields.map(\.name).joined(separator: ", ")))")
            }
        }
        if toxic.type == .respError {
            let error = toxic.text("error")
            guard !error.isEmpty, !error.utf8.contains(where: { $0 == 13 || $0 == 10 }) else {
                throw .badRequestBody("resp_error's error is one line of text such as LOADING Redis is loading the dataset in memory")
            }
        }
        if toxic.type == .pgError {
            guard toxic.text("sqlstate").utf8.count == 5, toxic.text("sqlstate").allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber) }) else {
                throw .badRequestBody("pg_error's sqlstate is five characters, digits and capitals, such as 40001")
            }
        }
        if toxic.type == .httpStatus {
            guard (100...599).contains(toxic["status"]) else { throw .badRequestBody("http_status needs a status from 100 to 599") }
        }
        if toxic.type == .slicer {
            guard toxic["average_size"] > 0 else { throw .badRequestBody("slicer needs an average_size of at least 1") }
            guard toxic["size_variation"] < toxic["average_size"] else {
                throw .badRequestBody("slicer's size_variation must be less than its average_size")
            }
        }
    }

    /// `--fault 'latency:latency=100,jitter=10,stream=downstream'`: a type, then attributes and
    /// `name`, `stream`, `toxicity` and the conditions (`client`, `path`…) as key=value pairs; a
    /// text attribute's value is the text as it stands (up to the next comma).
    public static func oneLiner(_ text: String) throws(FaultError) -> Toxic {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard let first = parts.first else { throw FaultError("empty --fault: give a toxic type such as latency:latency=100", status: 400) }
        var object: [String: Any] = ["type": String(first)]
        var attributes: [String: Any] = [:]
        var condition: [String: Any] = [:]
        let texts = ToxicType(rawValue: String(first))?.textDefaults ?? [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: ",") {
                let keyValue = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard keyValue.count == 2, !keyValue[0].isEmpty else {
                    throw .badRequestBody("'\(pair)' is not key=value")
                }
                let (key, value) = (keyValue[0], keyValue[1])
                switch key {
                case "name", "stream": object[key] = value
                case "client": condition[key] = value
                case _ where RequestCondition.fields.contains(where: { $0.name == key }): condition[key] = value
                case _ where texts[key] != nil: attributes[key] = value
                case "toxicity":
                    guard let number = Double(value) else { throw .badRequestBody("toxicity must be a number") }
                    object[key] = NSNumber(value: number)
                default:
                    guard let number = Int64(value) else { throw .badRequestBody("\(key) must be a whole number") }
                    attributes[key] = NSNumber(value: number)
                }
            }
        }
        object["attributes"] = attributes
        if !condition.isEmpty { object["condition"] = condition }
        return try toxic(object)
    }
}
