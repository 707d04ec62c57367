import Foundation
import NIOCore
import Protocols
import Recording

/// A HAR 1.2 log (DevTools' "Save all as HAR", `wirelog sessions export --format har`) read back
/// as HTTP sessions of kind `import`: each entry becomes a request and a response in HTTP/1.1
/// bytes, decoded as the proxy decodes what it records, so `show`, `stats`, `mock` and `export`
/// read them as they read a recording. Entries of one `connection` share a session, in order
/// (what `export` wrote as one session is one again); entries without one get a session each.
public enum HARReader {
    public static func sessions(from data: Data, source: String) throws(HARError) -> [CompleteSession] {
        let document: HARInput.Document
        do {
            document = try JSONDecoder().decode(HARInput.Document.self, from: data)
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw HARError(source: source, problem: "not JSON (\(context.underlyingError.map { "\($0)" } ?? context.debugDescription))")
        } catch let error as DecodingError {
            throw HARError(source: source, problem: describe(error))
        } catch {
            throw HARError(source: source, problem: "\(error)")
        }
        var order: [String] = []
        var groups: [String: [(index: Int, entry: HARInput.Entry)]] = [:]
        for (index, entry) in document.log.entries.enumerated() {
            let key = entry.connection.map { "connection \($0)" } ?? "entry \(index)"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append((index: index, entry: entry))
        }
        var sessions: [CompleteSession] = []
        for key in order {
            sessions.append(try session(groups[key]!, source: source))
        }
        return sessions
    }

    /// One session from entries that shared a connection.
    private static func session(_ entries: [(index: Int, entry: HARInput.Entry)], source: String) throws(HARError) -> CompleteSession {
        var messages: [RecordedMessage] = []
        var decoder = ConversationDecoder(HTTP1Protocol.self, limits: DecoderLimits())
        let record: ConversationDecoder.Record = { sender, message, startedAt, exchange in
            let seq = Int64(messages.count + 1)
            messages.append(RecordedMessage(
                seq: seq, atMicros: startedAt, sender: sender, raw: Array(message.raw.readableBytesView), verb: message.verb,
                replyCode: message.replyCode, fields: message.fields, decodeError: message.decodeError, exchange: exchange))
            return seq
        }
        var firstURL: URLComponents?
        var started: Int64 = 0
        var ended: Int64 = 0
        for (index, entry) in entries {
            let place = "log.entries[\(index)]"
            guard let startedMicros = micros(entry.startedDateTime) else {
                throw HARError(source: source, problem: "\(place).startedDateTime \"\(entry.startedDateTime)\" is not an ISO 8601 time")
            }
            guard let url = URLComponents(string: entry.request.url), url.host != nil else {
                throw HARError(source: source, problem: "\(place).request.url \"\(entry.request.url)\" is not an absolute URL")
            }
            if firstURL == nil {
                firstURL = url
                started = startedMicros
            }
            let doneMicros = startedMicros + Int64((max(0, entry.time) * 1000).rounded())
            ended = max(ended, doneMicros)
            decoder.feed(ByteBuffer(bytes: requestBytes(entry.request, url: url)), from: .client, at: startedMicros, record)
            decoder.feed(ByteBuffer(bytes: try responseBytes(entry.response, place: "\(place).response", source: source)),
                         from: .server, at: doneMicros, record)
        }
        decoder.finish(.client, at: ended, record)
        decoder.finish(.server, at: ended, record)
        let url = firstURL!
        let host = entries[0].entry.serverIPAddress.flatMap { $0.isEmpty ? nil : $0 } ?? url.host ?? "?"
        let info = SessionInfo(kind: .import, decoding: Decoding(HTTP1Protocol.name), recorder: "har",
                               clientHost: "har", clientPort: 0, serverHost: host,
                               serverPort: url.port ?? (url.scheme == "https" ? 443 : 80), startedMicros: started)
        let end = SessionEnd(atMicros: ended, reason: .clientClosed,
                             bytesFromClient: Int64(messages.filter { $0.sender == .client }.map(\.raw.count).reduce(0, +)),
                             bytesFromServer: Int64(messages.filter { $0.sender == .server }.map(\.raw.count).reduce(0, +)),
                             messageCount: Int64(messages.count))
        return CompleteSession(info: info, end: end, messages: messages)
    }

    /// The request as HTTP/1.1 bytes: the URL's path and query, the headers as given (HTTP/2's
    /// pseudo-headers left out, a Host added when none came), the posted text.
    private static func requestBytes(_ request: HARInput.Request, url: URLComponents) -> [UInt8] {
        var target = url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath
        if let query = url.percentEncodedQuery { target += "?" + query }
        var headers = request.headers.filter { !$0.name.hasPrefix(":") }
        if !headers.contains(where: { $0.name.lowercased() == "host" }), let host = url.host {
            headers.insert(HARInput.NameValue(name: "Host", value: url.port.map { "\(host):\($0)" } ?? host), at: 0)
        }
        let body = Array((request.postData?.text ?? "").utf8)
        return head("\(request.method) \(target) \(version(request.httpVersion))", headers, bodyLength: body.count) + body
    }

    /// The response as HTTP/1.1 bytes: base64 content decoded, a chunked body chunked again,
    /// `Content-Length` made true of the body carried (DevTools gives decoded text with the
    /// compressed length, and its Content-Encoding is then dropped).
    private static func responseBytes(_ response: HARInput.Response, place: String, source: String) throws(HARError) -> [UInt8] {
        var body: [UInt8] = []
        var decodedText = false
        if let text = response.content.text {
            if response.content.encoding == "base64" {
                guard let data = Data(base64Encoded: text) else {
                    throw HARError(source: source, problem: "\(place).content.text is not base64")
                }
                body = Array(data)
            } else {
                body = Array(text.utf8)
                decodedText = true
            }
        }
        var headers = response.headers.filter { !$0.name.hasPrefix(":") }
        if decodedText { headers.removeAll { $0.name.lowercased() == "content-encoding" } }
        let chunked = headers.contains { $0.name.lowercased() == "transfer-encoding" && $0.value.lowercased().hasSuffix("chunked") }
        if chunked {
            body = (body.isEmpty ? [] : Array(String(body.count, radix: 16).utf8) + [13, 10] + body + [13, 10]) + Array("0\r\n\r\n".utf8)
        }
        let status = "\(version(response.httpVersion)) \(response.status)" + (response.statusText.isEmpty ? "" : " \(response.statusText)")
        return head(status, headers, bodyLength: chunked ? nil : body.count) + body
    }

    /// A start line and header lines; a `Content-Length` present is set to `bodyLength`, and one is
    /// added for a body that has none.
    private static func head(_ startLine: String, _ headers: [HARInput.NameValue], bodyLength: Int?) -> [UInt8] {
        var lines = [startLine]
        var lengthGiven = false
        for header in headers {
            if header.name.lowercased() == "content-length", let bodyLength {
                lengthGiven = true
                lines.append("\(header.name): \(bodyLength)")
            } else {
                lines.append("\(header.name): \(header.value)")
            }
        }
        if let bodyLength, bodyLength > 0, !lengthGiven { lines.append("Content-Length: \(bodyLength)") }
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }

    /// HTTP/1.0 and 1.1 as given; anything else (`h2`, `HTTP/2.0`) as HTTP/1.1, which the bytes are.
    private static func version(_ given: String) -> String {
        given.uppercased().hasPrefix("HTTP/1.") ? given.uppercased() : "HTTP/1.1"
    }

    private static func micros(_ text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let date = formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text)
        return date.map { Int64(($0.timeIntervalSince1970 * 1_000_000).rounded()) }
    }

    /// `log.entries[2].request.url is missing`.
    private static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.reduce("") { text, key in
                key.intValue.map { "\(text)[\($0)]" } ?? (text.isEmpty ? key.stringValue : "\(text).\(key.stringValue)")
            }
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])) is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context.codingPath)) is not what HAR 1.2 has there (\(context.debugDescription))"
        case .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

public struct HARError: Error, CustomStringConvertible, Equatable {
    public var source: String
    public var problem: String

    public var description: String { "\(source): \(problem)" }
}

/// What the reader takes of a HAR 1.2 document; everything else in it is left alone.
enum HARInput {
    struct Document: Decodable { var log: Log }
    struct Log: Decodable { var entries: [Entry] }
    struct NameValue: Decodable {
        var name: String
        var value: String
    }
    struct Entry: Decodable {
        var startedDateTime: String
        var time: Double
        var request: Request
        var response: Response
        var serverIPAddress: String?
        var connection: String?
    }
    struct Request: Decodable {
        var method: String
        var url: String
        var httpVersion: String
        var headers: [NameValue]
        var postData: PostData?
    }
    struct PostData: Decodable { var text: String? }
    struct Response: Decodable {
        var status: Int
        var statusText: String
        var httpVersion: String
        var headers: [NameValue]
        var content: Content
    }
    struct Content: Decodable {
        var text: String?
        var encoding: String?
    }
}
