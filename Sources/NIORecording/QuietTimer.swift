import NIOCore

/// Completes what only silence completes: an unterminated line of a client that sends no line
/// feed, a request that may still grow. Armed after a read that leaves input held; fires once
/// nothing more has arrived for `period` since the last read (it re-arms itself, rather than being
/// cancelled and scheduled again, while reads keep coming). Used on its event loop only.
public final class QuietTimer {
    public let period: TimeAmount
    private let eventLoop: any EventLoop
    private let onQuiet: () -> Void
    private var lastInputAt = NIODeadline.uptimeNanoseconds(0)
    private var scheduled: Scheduled<Void>?

    /// `onQuiet` must not hold its owner strongly: the owner holds the timer.
    public init(period: TimeAmount, eventLoop: any EventLoop, onQuiet: @escaping () -> Void) {
        self.period = period
        self.eventLoop = eventLoop
        self.onQuiet = onQuiet
    }

    /// A read arrived: the quiet period starts again from now.
    public func inputArrived() {
        lastInputAt = eventLoop.now
    }

    /// Makes sure the timer runs (it may already).
    public func arm() {
        guard scheduled == nil else { return }
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        scheduled = eventLoop.scheduleTask(deadline: lastInputAt + period) {
            loopBound.value.fired()
        }
    }

    public func cancel() {
        scheduled?.cancel()
        scheduled = nil
    }

    private func fired() {
        scheduled = nil
        if eventLoop.now < lastInputAt + period {
            arm()  // more bytes came since it was set
        } else {
            onQuiet()
        }
    }
}
