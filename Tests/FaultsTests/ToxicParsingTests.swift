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
        (#"{"type":"http_status","attributes":{"status":503}}"#, "bad request body: http_status reads requests: its stream is upstream", 400),
        (#"{"type":"resp_error","stream":"both"}"#, "bad request body: resp_error reads requests: its stream is upstream", 400),
        (#"{"type":"http_status","stream":"upstream","attributes":{"status":99}}"#, "bad request body: http_status needs a status from 100 to 599", 400),
        (#"{"type":"pg_error","stream":"upstream","attributes":{"sqlstate":40001}}"#, "bad request body: sqlstate must be a string", 400),
        (#"{"type":"pg_error","stream":"upstream","attributes":{"sqlstate":"4000"}}"#,
         "bad request body: pg_error's sqlstate is five characters, digits and capitals, such as 40001", 400),
        (#"{"type":"resp_error","stream":"upstream","attributes":{"error":"A\r\nB"}}"#,
         "bad request body: resp_error's error is one line of text such as LOADING Redis is loading the dataset in memory", 400),
        (#"{"type":"drop_after","stream":"downstream"}"#, "bad request body: drop_after reads requests: its stream is upstream", 400),
        (#"{"type":"resp_error","stream":"upstream","condition":{"path":"/x"}}"#,
         "bad request body: resp_error requests have no path (they have command)", 400),
        (#"{"type":"latency","condition":{"method":"GET"}}"#,
         "bad request body: conditions on requests apply to toxics that read them (http_status, resp_error, pg_error, drop_after)", 400),
        (#"{"type":"latency","condition":{"verb":"GET"}}"#,
         "bad request body: unknown condition verb (there are client, method, path, command, query)", 400),
    ])
    func badToxicsGetToxiproxysStatusAndOneLine(_ json: String, _ message: String, _ status: Int) {
        #expect(throws: FaultError(message, status: status)) { try parse(json) }
    }

    @Test func textAttributesAndRequestConditionsInToxiproxysJSONShape() throws {
        let toxic = try parse(#"{"type":"pg_error","stream":"upstream","attributes":{"sqlstate":"57P01"},"condition":{"query":"UPDATE*"}}"#)
        #expect(toxic.text("sqlstate") == "57P01" && toxic.text("message") == "wirelog fault")
        #expect(toxic.json == #"{"attributes":{"sqlstate":"57P01","message":"wirelog fault"},"name":"pg_error_upstream","type":"pg_error","#
            + #""stream":"upstream","toxicity":1,"condition":{"query":"UPDATE*"}}"#)
        #expect(toxic.summary == "pg_error:sqlstate=57P01,message=wirelog fault,query=UPDATE*,stream=upstream")
        #expect(try parse(#"{"type":"resp_error","stream":"upstream"}"#).json.hasPrefix(#"{"attributes":{"error":"ERR wirelog fault"},"#))
        // An update changes the attributes it names; the others keep their values.
        let updated = try ToxicParsing.update(toxic, with: ToxicParsing.json(Array(#"{"attributes":{"message":"terminating"}}"#.utf8)))
        #expect(updated.text("sqlstate") == "57P01" && updated.text("message") == "terminating")
    }

    @Test func requestPatterns() {
        #expect(Glob.matches("/api/users", "/api/*") && !Glob.matches("/apix", "/api/*") && !Glob.matches("/v1/api/x", "/api/*"))
        #expect(Glob.matches("abxbc", "a*bc") && Glob.matches("GET", "G?T") && Glob.matches("", "*") && !Glob.matches("GETX", "GET"))
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
        let loading = try ToxicParsing.oneLiner("resp_error:error=LOADING Redis is loading the dataset in memory,command=GET,stream=upstream")
        #expect(loading.text("error") == "LOADING Redis is loading the dataset in memory")
        #expect(loading.requests == RequestCondition(["command": "GET"]))
        let http = try ToxicParsing.oneLiner("http_status:status=503,method=POST,path=/api/*,stream=upstream")
        #expect(http.requests.patterns.map { "\($0.0)=\($0.1)" } == ["method=POST", "path=/api/*"])
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
