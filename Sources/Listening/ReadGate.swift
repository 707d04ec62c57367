import NIOCore

/// Backpressure for an accepted connection: its handler lets the outbound `read` through only
/// while the handler's own condition allows it and the channel can take more writes, and
/// remembers a read it held back so that `reopen` can issue it once things move again.
public struct ReadGate {
    private var heldBack = false

    public init() {}

    /// The handler's `read(context:)`.
    public mutating func read(context: ChannelHandlerContext, allowed: Bool) {
        if allowed && context.channel.isWritable {
            context.read()
        } else {
            heldBack = true
        }
    }

    /// After whatever held the read back may have cleared (a commit, writability).
    public mutating func reopen(context: ChannelHandlerContext, allowed: Bool) {
        if heldBack && allowed && context.channel.isWritable {
            heldBack = false
            context.read()
        }
    }
}
