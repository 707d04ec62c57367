import Metrics
import NIOCore
import Telemetry

/// The toxics one proxied connection has: it follows its proxy's `FaultSet`, draws each toxic's
/// toxicity once, checks its condition on the client, and keeps one `ToxicHandler` per toxic
/// and direction in the channel that direction writes to, just ahead of the glue's handler.
/// Everything runs on the connection's event loop.
public final class ConnectionFaults {
    /// Bytes a direction's toxics may hold before the glue stops reading what would add to them.
    public static let maximumHeldBytes = 1 << 20

    private let set: FaultSet
    private let proxyName: String
    private let clientHost: String
    private let eventLoop: EventLoop
    private var subscription: Int?
    private var current: [Toxic] = []
    /// The glue's handler in each direction's channel: toxics go in just ahead of it.
    private var anchors: [ToxicDirection: ChannelHandlerContext] = [:]
    private var handlers: [ToxicDirection: [ToxicHandler]] = [:]
    private var held: [ToxicDirection: Int] = [:]
    /// Whether this connection got each toxic (drawn once per toxicity).
    private var draws: [String: (toxicity: Double, got: Bool)] = [:]
    private let report: (FaultAction) -> Void

    /// `report` hears what each toxic did (for the session's record).
    public init(set: FaultSet, proxyName: String, clientHost: String, eventLoop: EventLoop, report: @escaping (FaultAction) -> Void) {
        self.set = set
        self.proxyName = proxyName
        self.clientHost = clientHost
        self.eventLoop = eventLoop
        self.report = report
    }

    /// The glue's handler of `direction`'s channel is in place: its toxics can join.
    public func attach(_ direction: ToxicDirection, anchor: ChannelHandlerContext) {
        anchors[direction] = anchor
        if subscription == nil {
            let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
            let eventLoop = self.eventLoop
            let (key, toxics) = set.subscribe { toxics in
                eventLoop.execute { loopBound.value.apply(toxics) }
            }
            subscription = key
            current = toxics
        }
        apply(current)
    }

    /// The connection has ended.
    public func detach() {
        if let subscription { set.unsubscribe(subscription) }
        subscription = nil
        anchors = [:]
        handlers = [:]
    }

    /// Whether the glue may read bytes bound for `direction` (its toxics are not holding too many).
    public func accepts(_ direction: ToxicDirection) -> Bool {
        (held[direction] ?? 0) < Self.maximumHeldBytes
    }

    func apply(_ toxics: [Toxic]) {
        current = toxics
        for (direction, anchor) in anchors {
            let wanted = toxics.filter { $0.stream.covers(direction) && applies($0) }
            var installed = handlers[direction] ?? []
            let pipeline = anchor.pipeline.syncOperations
            installed.removeAll { handler in
                guard !wanted.contains(where: { $0.name == handler.toxic.name }) else { return false }
                pipeline.removeHandler(handler, promise: nil)
                return true
            }
            for toxic in wanted {
                if let handler = installed.first(where: { $0.toxic.name == toxic.name }) {
                    if handler.toxic != toxic { handler.update(toxic) }
                    continue
                }
                let handler = makeHandler(toxic, direction)
                // Bytes pass the newest toxic last: it goes nearest the socket.
                let position: ChannelPipeline.SynchronousOperations.Position =
                    installed.first.map { .before($0) } ?? .before(anchor.handler)
                guard (try? pipeline.addHandler(handler, position: position)) != nil else { continue }
                installed.insert(handler, at: 0)
                WirelogMetrics.toxicsApplied.counter(proxyName, toxic.type.rawValue).increment()
            }
            handlers[direction] = installed
        }
    }

    private func makeHandler(_ toxic: Toxic, _ direction: ToxicDirection) -> ToxicHandler {
        let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
        return ToxicHandler(toxic: toxic, direction: direction,
                            report: { loopBound.value.report($0) },
                            queueChanged: { loopBound.value.heldChanged(direction, by: $0) },
                            answerClient: { loopBound.value.answerClient($0, thenClose: $1) })
    }

    /// Written where the glue writes to the client (through the downstream toxics); closed once sent if told.
    private func answerClient(_ bytes: ByteBuffer, thenClose: Bool) {
        guard let anchor = anchors[.downstream] else { return }
        guard thenClose else { return anchor.writeAndFlush(NIOAny(bytes), promise: nil) }
        let sent = eventLoop.makePromise(of: Void.self)
        anchor.writeAndFlush(NIOAny(bytes), promise: sent)
        sent.futureResult.assumeIsolated().whenComplete { _ in anchor.close(promise: nil) }
    }

    private func heldChanged(_ direction: ToxicDirection, by delta: Int) {
        let before = held[direction] ?? 0
        held[direction] = before + delta
        // Below the limit again: the glue re-checks whether it may read (as when a socket drains).
        if before >= Self.maximumHeldBytes && before + delta < Self.maximumHeldBytes {
            anchors[direction]?.pipeline.fireChannelWritabilityChanged()
        }
    }

    /// The client condition, then toxicity: drawn once per connection, again if it changes.
    private func applies(_ toxic: Toxic) -> Bool {
        if let clients = toxic.clients, !clients.contains(clientHost) { return false }
        if toxic.toxicity >= 1 { return true }
        if let draw = draws[toxic.name], draw.toxicity == toxic.toxicity { return draw.got }
        let got = Double.random(in: 0..<1) < toxic.toxicity
        draws[toxic.name] = (toxic.toxicity, got)
        return got
    }
}
