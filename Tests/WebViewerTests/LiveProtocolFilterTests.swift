import Recording
import Testing
@testable import WebViewer

/// A filtered live list admits a session once messages seen live match the protocol filters, as
/// the stores' SQL would: status classes, field values (equal or glob), the slowest exchange.
@Suite struct LiveProtocolFilterTests {
    static func change(_ id: Int64, decoding: String, _ messages: [MessageFacts]) -> SessionChange {
        var change = SessionChange(session: SessionSummary(
            id: id, kind: "proxy", decoding: decoding, recorder: "test", clientHost: "127.0.0.1", clientPort: 1,
            serverHost: "127.0.0.1", serverPort: 2, startedMicros: 0, endedMicros: nil, endReason: nil,
            bytesFromClient: 0, bytesFromServer: 0, messageCount: Int64(messages.count), replayOf: nil))
        for message in messages { change.note(message) }
        return change
    }

    static func response(_ session: Int64, status: Int, target: String? = nil, micros: Int64) -> MessageFacts {
        MessageFacts(id: session * 10, sessionID: session, seq: 2, sender: .server, byteCount: 10, verb: nil, replyCode: status,
                     fields: target.map { [MessageField("target", .text($0))] } ?? [], exchangeMicros: micros)
    }

    static func admitted(_ filter: SessionFilter, _ changes: [SessionChange]) -> [Int64] {
        var selection = EventSelection(filter: filter, at: 0)
        let text = selection.events(changes, id: "1")
        return changes.map(\.session.id).filter { text.contains("\"id\":\($0)") }
    }

    @Test func protocolFiltersAdmitWhatMatchedLive() {
        let changes = [
            Self.change(1, decoding: "http", [Self.response(1, status: 503, target: "/api/orders", micros: 250_000)]),
            Self.change(2, decoding: "http", [Self.response(2, status: 200, target: "/users/7", micros: 1_000)]),
            Self.change(3, decoding: "resp", []),
        ]
        var filter = SessionFilter()
        filter.replyCodeRange = 500...599
        #expect(Self.admitted(filter, changes) == [1])
        filter = SessionFilter()
        filter.fields = [FieldMatch(name: "target", .glob("/users/*"))]
        #expect(Self.admitted(filter, changes) == [2])
        filter = SessionFilter()
        filter.slowerThanMicros = 100_000
        #expect(Self.admitted(filter, changes) == [1])
        filter = SessionFilter()
        filter.decoding = "resp"
        #expect(Self.admitted(filter, changes) == [3])
    }
}
