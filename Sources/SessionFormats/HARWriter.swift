import Foundation
import Protocols
import Recording

/// HTTP sessions as a HAR 1.2 log (http://www.softwareishard.com/blog/har-12-spec/): one entry per
/// exchange, with its headers, its bodies (base64 when they are not text), and its timing. Built
/// from the stored messages and their decoded fields; sessions of other protocols add nothing.
public struct HARWriter {
    private var entries: [HAR.Entry] = []

    public init() {}

    public var entryCount: Int { entries.count }

    /// Adds the exchanges of one session, given all its messages in wire order.
    public mutating func add(_ session: SessionSummary, messages: [StoredMessage]) {
        guard session.decoding == "http" else { return }
        let wholes = Self.wholeMessages(messages)
        var requests: [Int64: HTTPMessage] = [:]
        for message in wholes {
            if message.sender == .client {
                requests[message.seq] = message
            } else if let link = message.exchange, let request = requests.removeValue(forKey: link.requestSeq) {
                entries.append(Self.entry(session: session, request: request, response: message, durationMicros: link.durationMicros))
            }
        }
    }

    /// The log as one JSON document.
    public func document() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]  // the same bytes every time
        let log = HAR.Document(log: HAR.Log(
            version: "1.2", creator: HAR.Creator(name: "wirelog", version: "1"),
            pages: [], entries: entries.sorted { $0.startedMicros < $1.startedMicros }))
        return Array(try encoder.encode(log)) + [0x0A]
    }

    // MARK: From messages to entries

    /// An HTTP message put back together from its pieces (`continuation` messages follow their head).
    struct HTTPMessage {
        var seq: Int64
        var sender: Sender
        var atMicros: Int64
        var raw: [UInt8]
        var fields: [MessageField]
        var exchange: ExchangeLink?
    }

    static func wholeMessages(_ messages: [StoredMessage]) -> [HTTPMessage] {
        var wholes: [HTTPMessage] = []
        var open: [Sender: Int] = [:]
        for message in messages where message.decodeError == nil {
            if message.fields[field: "continuation"] != nil, let index = open[message.sender] {
                wholes[index].raw += message.raw
                if let link = message.exchange { wholes[index].exchange = link }
                continue
            }
            guard message.fields[field: "body_offset"] != nil else { continue }
            open[message.sender] = wholes.count
            wholes.append(HTTPMessage(seq: message.seq, sender: message.sender, atMicros: message.atMicros, raw: message.raw,
                                      fields: message.fields, exchange: message.exchange))
        }
        return wholes
    }

    static func entry(session: SessionSummary, request: HTTPMessage, response: HTTPMessage, durationMicros: Int64) -> HAR.Entry {
        let requestHead = Head(request)
        let responseHead = Head(response)
        let target = request.fields[field: "target"]?.text ?? "/"
        let host = request.fields[field: "host"]?.text ?? "\(session.serverHost):\(session.serverPort)"
        let url = target.hasPrefix("http://") || target.hasPrefix("https://")
            ? target : "\(session.tls?.client != nil ? "https" : "http")://\(host)\(target.hasPrefix("/") ? "" : "/")\(target)"
        let requestBody = body(of: request)
        let responseBody = body(of: response)
        let milliseconds = Double(durationMicros) / 1000
        let requestMime = request.fields[field: "content_type"]?.text ?? ""
        return HAR.Entry(
            startedMicros: request.atMicros,
            startedDateTime: isoTimestamp(request.atMicros),
            time: milliseconds,
            request: HAR.Request(
                method: request.fields[field: "method"]?.text ?? "GET", url: url,
                httpVersion: request.fields[field: "version"]?.text ?? "HTTP/1.1",
                cookies: [], headers: requestHead.headers, queryString: queryString(target),
                postData: requestBody.isEmpty ? nil : HAR.PostData(mimeType: requestMime, text: String(decoding: requestBody, as: UTF8.self)),
                headersSize: requestHead.size, bodySize: requestBody.count),
            response: HAR.Response(
                status: response.fields[field: "status"]?.integer.map(Int.init) ?? 0,
                statusText: response.fields[field: "reason"]?.text ?? "",
                httpVersion: response.fields[field: "version"]?.text ?? "HTTP/1.1",
                cookies: [], headers: responseHead.headers,
                content: content(responseBody, mimeType: response.fields[field: "content_type"]?.text ?? ""),
                redirectURL: responseHead.headers.first { $0.name.lowercased() == "location" }?.value ?? "",
                headersSize: responseHead.size, bodySize: responseBody.count),
            cache: HAR.Cache(),
            timings: HAR.Timings(send: 0, wait: milliseconds, receive: 0),
            serverIPAddress: session.serverHost,
            connection: String(session.id))
    }

    /// The start line's and header fields' text, and the head's size.
    struct Head {
        var headers: [HAR.NameValue] = []
        var size = -1

        init(_ message: HTTPMessage) {
            guard let offset = message.fields[field: "body_offset"]?.integer.map(Int.init), offset <= message.raw.count else { return }
            size = offset
            let lines = message.raw[..<offset].split(separator: 0x0A).map { line in
                String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
            }.filter { !$0.isEmpty }
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers.append(HAR.NameValue(name: String(line[..<colon]),
                                             value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
        }
    }

    /// The body's bytes, chunked framing taken off.
    static func body(of message: HTTPMessage) -> [UInt8] {
        guard let offset = message.fields[field: "body_offset"]?.integer.map(Int.init), offset <= message.raw.count else { return [] }
        let body = Array(message.raw[offset...])
        guard message.fields[field: "transfer_encoding"]?.text?.lowercased().hasSuffix("chunked") == true else { return body }
        return HTTP1Protocol.dechunked(body)
    }

    static func content(_ body: [UInt8], mimeType: String) -> HAR.Content {
        if let text = String(validating: body, as: UTF8.self), !body.contains(0) {
            return HAR.Content(size: body.count, mimeType: mimeType, text: text, encoding: nil)
        }
        return HAR.Content(size: body.count, mimeType: mimeType, text: Data(body).base64EncodedString(), encoding: "base64")
    }

    static func queryString(_ target: String) -> [HAR.NameValue] {
        guard let question = target.firstIndex(of: "?") else { return [] }
        return target[target.index(after: question)...].split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1)
            let decode = { (text: Substring) in text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text) }
            return HAR.NameValue(name: decode(parts[0]), value: parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// `2026-12-07T18:02:57.700Z`.
    static func isoTimestamp(_ micros: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(micros) / 1_000_000))
    }
}

/// The HAR 1.2 document's shapes (field names as the format spells them).
enum HAR {
    struct Document: Encodable { var log: Log }
    struct Log: Encodable {
        var version: String
        var creator: Creator
        var pages: [String]
        var entries: [Entry]
    }
    struct Creator: Encodable { var name: String; var version: String }
    struct NameValue: Encodable { var name: String; var value: String }
    struct Entry: Encodable {
        var startedMicros: Int64
        var startedDateTime: String
        var time: Double
        var request: Request
        var response: Response
        var cache: Cache
        var timings: Timings
        var serverIPAddress: String
        var connection: String

        enum CodingKeys: String, CodingKey {
            case startedDateTime, time, request, response, cache, timings, serverIPAddress, connection
        }
    }
    struct Request: Encodable {
        var method: String
        var url: String
        var httpVersion: String
        var cookies: [NameValue]
        var headers: [NameValue]
        var queryString: [NameValue]
        var postData: PostData?
        var headersSize: Int
        var bodySize: Int
    }
    struct PostData: Encodable { var mimeType: String; var text: String }
    struct Response: Encodable {
        var status: Int
        var statusText: String
        var httpVersion: String
        var cookies: [NameValue]
        var headers: [NameValue]
        var content: Content
        var redirectURL: String
        var headersSize: Int
        var bodySize: Int
    }
    struct Content: Encodable {
        var size: Int
        var mimeType: String
        var text: String
        var encoding: String?
    }
    struct Cache: Encodable {}
    struct Timings: Encodable { var send: Double; var wait: Double; var receive: Double }
}
