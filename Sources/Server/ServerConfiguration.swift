import LabProtocol
import NIOCore
import Recording
import WirelogTLS

/// Everything `wirelog serve` can be told. Defaults are the documented ones (docs/PROTOCOL.md).
public struct ServerConfiguration: Sendable {
    public enum Framing: String, Sendable, CaseIterable {
        /// A partial line followed by `quietPeriod` of silence is a complete command
        /// (clients built from the lab's reference code send no terminator).
        case auto
        /// Only LF ends a command.
        case line
    }

    public var host = "127.0.0.1"
    public var port = 7070
    /// nil: the lab's own reply bytes (LF after one-line replies, CRLF in the 400 reply).
    public var lineEnding: LineEnding?
    public var framing: Framing = .auto
    public var quietPeriod: TimeAmount = .milliseconds(200)
    public var maxLineLength = 64 * 1024
    /// `.zero`: no idle limit.
    public var idleTimeout: TimeAmount = .seconds(300)
    public var maxConnections = 4096
    public var eventLoopThreads = System.coreCount
    /// Serve over TLS (`--tls-cert`, `--tls-key`).
    public var tls: ServerTLS?
    /// Off only for measuring what recording costs.
    public var recording = true
    /// Who the sessions say recorded them (`--recorder-name`).
    public var recorderName = RecorderName.hostName
    /// A connection stops being read while this many of its bytes, or commands, wait for a
    /// commit: a pipelining client cannot make one transaction huge and delay everyone else's.
    public var maxUnacknowledgedBytes = 1 << 20
    public var maxUnacknowledgedCommands = 1_024

    public init() {}
}
