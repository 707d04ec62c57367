import Histogram
import NIOCore

/// What one connection measured; merged into a `BenchResult` at the end.
struct ConnectionStats: Sendable {
    var latencyNanos = ConnectionStats.makeHistogram()
    var measured = 0
    var warmup = 0
    var badReplies = 0
    var errors = 0
    var firstError: String?
    /// The start of the first reply that differed from `--expect`, to show what came instead.
    var firstBadReply: [UInt8]?
    /// Uptime (ns) of the last measured reply or echoed byte.
    var lastProgressAt: UInt64 = 0
    var verifiedBytes = 0

    /// Nanoseconds from 1 to 100 s at three significant digits: about 100 KB per connection.
    static func makeHistogram() -> Histogram<UInt32> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: 100_000_000_000, numberOfSignificantValueDigits: .three)
    }

    mutating func badReply(_ bytes: UnsafeRawBufferPointer) {
        badReplies += 1
        if firstBadReply == nil { firstBadReply = Array(bytes.prefix(200)) }
    }

    mutating func fail(_ message: String) {
        errors += 1
        if firstError == nil { firstError = message }
    }
}

/// Sent through the pipeline once every connection is up: from now on, load.
struct BeginLoad: Sendable {
    /// Uptime (ns): requests sent before this are warm-up.
    var measureStart: UInt64
    /// Uptime (ns): no request is sent from then on.
    var end: UInt64
    /// Measured requests this connection sends (Int.max: until `end`).
    var quota: Int
}

/// Closes a connection that has been waiting on the server for too long: checks now and then
/// instead of arming a timer per request.
struct ReplyWatchdog {
    private var task: RepeatedTask?

    init() {}

    mutating func start(on loop: any EventLoop, timeoutNanos: Int64, _ check: @escaping @Sendable () -> Void) {
        let period = TimeAmount.nanoseconds(max(1_000_000, min(timeoutNanos / 4, 1_000_000_000)))
        task = loop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in check() }
    }

    mutating func stop() {
        task?.cancel()
        task = nil
    }
}

@inline(__always)
func uptimeNanos() -> UInt64 { NIODeadline.now().uptimeNanoseconds }
