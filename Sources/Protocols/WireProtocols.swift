import NIOCore

/// Every protocol wirelog decodes, by name. Registering a protocol is one line here.
public enum WireProtocols {
    public static let all: [any WireProtocol.Type] = [
        HTTP1Protocol.self,
        RawProtocol.self,
        LinesProtocol.self,
        LabWireProtocol.self,
        RESPProtocol.self,
        PostgresProtocol.self,
        SMTPProtocol.self,
    ]

    /// `--decode auto`: not a protocol but the choice of one from the client's first bytes.
    public static let autoName = "auto"

    public static func named(_ name: String) -> (any WireProtocol.Type)? {
        all.first { $0.name == name }
    }

    /// The names `--decode` takes, auto first.
    public static var names: [String] { [autoName] + all.map { $0.name } }

    /// The protocol of a stream whose server spoke first with `greeting` (raw when none knows it);
    /// decided on the first bytes, however few: a greeting comes whole.
    public static func detect(greeting: ByteBufferView) -> any WireProtocol.Type {
        all.first { $0.recognise(greeting: greeting) == .yes } ?? RawProtocol.self
    }

    /// The protocol a stream starting with `clientBytes` speaks (the first in `all` to say yes,
    /// raw when none does), or nil while an earlier one needs more bytes to tell, unless `final`
    /// (nothing more is coming for now: the client went quiet, the server spoke, the stream ended).
    public static func detect(_ clientBytes: ByteBufferView, final: Bool) -> (any WireProtocol.Type)? {
        var undecided = false
        for candidate in all {
            switch candidate.recognise(clientBytes) {
            case .yes: return undecided && !final ? nil : candidate
            case .needMore: undecided = true
            case .no: continue
            }
        }
        return undecided && !final ? nil : RawProtocol.self
    }
}
