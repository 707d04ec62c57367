import Hummingbird
import Recording
import SessionFormats

/// `/sessions/:id/download/FORMAT`: the bytes `sessions export` writes (the same `SessionExporter`),
/// streamed as an attachment, never shown as a page.
struct Downloads {
    let store: ViewerStore

    func add(to router: Router<BasicRequestContext>) {
        router.get("/sessions/:id/download/:format") { _, context in
            let id = try context.sessionID()
            let name = context.parameters.get("format") ?? ""
            guard let format = ExportFormat(rawValue: name) else {
                let known = ExportFormat.allCases.map(\.rawValue).joined(separator: ", ")
                throw ViewerError.badRequest("unknown download format '\(name)': use one of \(known)")
            }
            // The session must exist before the 200 goes out.
            let session = try await store.read { try await $0.session(id) }
            let exporter = SessionExporter(store: try await store.current())
            var headers: HTTPFields = [.contentType: Self.contentType(format)]
            headers[.contentDisposition] = "attachment; filename=\"session-\(id).\(Self.fileExtension(format))\""
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                try await exporter.write([session], as: format) { bytes in
                    try await writer.write(ByteBuffer(bytes: bytes))
                }
                try await writer.finish(nil)
            })
        }
    }

    static func contentType(_ format: ExportFormat) -> String {
        switch format {
        case .json: "application/json"
        case .har: "application/json"
        case .ndjson: "application/x-ndjson"
        case .pcap: "application/vnd.tcpdump.pcap"
        case .clientBytes, .serverBytes: "application/octet-stream"
        }
    }

    static func fileExtension(_ format: ExportFormat) -> String {
        switch format {
        case .json: "json"
        case .ndjson: "ndjson"
        case .pcap: "pcap"
        case .har: "har"
        case .clientBytes: "client.bin"
        case .serverBytes: "server.bin"
        }
    }
}
