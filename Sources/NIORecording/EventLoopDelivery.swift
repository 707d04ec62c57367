import NIOCore
import Recording

extension CommitDelivery {
    /// Outcomes delivered on `eventLoop`, one hop per commit for all of the loop's connections.
    public static func eventLoop(_ eventLoop: any EventLoop) -> CommitDelivery {
        CommitDelivery(owner: eventLoop) { eventLoop.execute($0) }
    }
}
