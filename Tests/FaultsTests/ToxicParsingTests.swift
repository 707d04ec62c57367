import Testing
@testable import Faults

/// Toxics from JSON and from `--fault`, with toxiproxy's defaults, statuses and messages.
@Suite struct ToxicParsingTests {
    private func parse(_ json: String) throws(FaultError) -> Toxic {
        try ToxicParsing.toxic(ToxicParsing.json(Array(json.utf8)))
    }

    @Test func toxiproxysDefaultsAndJSONShape() throws {
        let toxic = try parse(#"{"type":"latency","attributes":{"latency":100}}"#)
        #expect(toxic.name == "latency_downstream")
        #expect(toxic.stream == .downstream && toxic.toxicity == 1)
        #expect(toxic.json == #"{"attributes":{"latency":100,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}"#)
        let half = try parse(#"{"name":"s","type":"slicer","stream":"UPSTREAM","toxicity":0.5,"attributes":{"average_size":10,"size_variation":2,"delay":5}}"#)
        #expect(half.json == #"{"attributes":{"average_size":10,"size_variation":2,"delay":5},"name":"s","type":"slicer","stream":"upstream","toxicity":0.5}"#)
    }

    @Test(arguments: [
        (#"{"type":"latency""#, "bad request body: malformed JSON", 400),
        (#"{"type":"nope"}"#, "invalid toxic type", 400),
        (#"{"attributes":{}}"#, "invalid toxic type", 400),
        (#"{"type":"latency","stream":"sideways"}"#, "stream was invalid, can be either upstream or downstream", 400),
        (#"{"type":"latency","attributes":{"latncy":1}}"#, "bad request body: latency has no attribute latncy (it has latency, jitter)", 400),
        (#"{"type":"latency","attributes":{"latency":-5}}"#, "bad request body: latency must not be negative, not -5", 400),
        (#"{"type":"bandwidth","attributes":{"rate":1.5}}"#, "bad request body: rate must be a whole number", 400),
        (#"{"type":"latency","toxicity":2}"#, "bad request body: toxicity must be between 0 and 1, not 2", 400),
        (#"{"type":"slicer","attributes":{"average_size":4,"size_variation":4}}"#, "bad request body: slicer's size_variation must be less than its average_size", 400),
        (#"[1]"#, "bad request body: a toxic is a JSON object", 400),
        (#"{"type":"http_status","attributes":{"status":503}}"#, "bad request body: http_status answers requests: its stream is upstream", 400),
        (#"{"type":"resp_error","stream":"both"}"#, "bad request body: resp_error answers requests: its stream is upstream", 400),
        (#"{"type":"http_status","stream":"upstream","attributes":{"status":99}}"#, "bad request body: http_status needs a status from 100 to 599", 400),
    ])
    func badToxicsGetToxiproxysStatusAndOneLine(_ json: String, _ message: String, _ status: Int) {
        #expect(throws: FaultError(message, status: status)) { try parse(json) }
    }

    @Test func aNameUsedTwiceIsAConflict() throws {
        let set = FaultSet([Toxic(type: .latency)])
        #expect(throws: FaultError.toxicAlreadyExists) { try set.add(Toxic(type: .latency)) }
        #expect(FaultError.toxicAlreadyExists.json == #"{"error":"toxic already exists","status":409}"#)
    }

    @Test func oneLiners() throws {
        let toxic = try ToxicParsing.oneLiner("latency:latency=100,jitter=10,stream=both,client=127.0.0.0/8")
        #expect(toxic.name == "latency_both" && toxic["latency"] == 100 && toxic["jitter"] == 10)
        #expect(toxic.clients == ClientCondition("127.0.0.0/8"))
        #expect(try ToxicParsing.oneLiner("reset_peer").type == .resetPeer)
        #expect(throws: FaultError.invalidToxicType) { try ToxicParsing.oneLiner("lag:latency=1") }
        #expect(throws: FaultError.badRequestBody("'latency' is not key=value")) { try ToxicParsing.oneLiner("latency:latency") }
    }

    @Test func clientRanges() {
        let v4 = ClientCondition("10.0.0.0/8")!
        #expect(v4.contains("10.200.1.1") && !v4.contains("11.0.0.1") && v4.contains("::ffff:10.0.0.9"))
        let v6 = ClientCondition("fd00::/8")!
        #expect(v6.contains("fd12::1") && !v6.contains("fe80::1") && !v6.contains("10.0.0.1"))
        #expect(ClientCondition("::1")!.contains("::1"))
        #expect(ClientCondition("10.0.0.0/33") == nil && ClientCondition("nonsense") == nil)
    }
}
