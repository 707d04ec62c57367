import Foundation
import NIOCore
import NIOPosix

/// A relay in front of the test PostgreSQL that cuts one connection where a server stopping
/// (`pg_ctl restart -m fast`) can strike a writer: between a statement's answer and its commit.
/// PostgreSQL keeps a statement's answer until the Sync that ends the exchange, and commits an
/// implicit transaction at that Sync; a backend told to stop before then sends the answer on
/// its way out, CommandComplete first, then the error. The relay does what that does to the
/// first execution of the prepared statement `statement` whose parameters hold `marker` (some
/// bytes of the data the test sends): it passes on a Flush instead of the client's Sync (the
/// server answers without committing), passes the answer up to its CommandComplete, and closes
/// both sides (the server rolls back). Every other connection, and everything before the cut, is
/// relayed untouched. It reads the protocol in the clear: give clients `relayedURL(_:)`.
public final class PostgresCutter: Sendable {
    public let port: Int
    private let plan: CutPlan
    private let listener: any Channel

    public static func start(before server: (host: String, port: Int), cutting statement: String,
                             holding marker: String) async throws -> PostgresCutter {
        let plan = CutPlan(statement: statement, marker: Array(marker.utf8))
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { client in
                ClientBootstrap(group: client.eventLoop)
                    .connect(host: server.host, port: server.port)
                    .flatMapThrowing { upstream in
                        let relay = Relay(client: client, server: upstream, plan: plan)
                        try client.pipeline.syncOperations.addHandler(RelayLeg(relay: relay, fromClient: true))
                        try upstream.pipeline.syncOperations.addHandler(RelayLeg(relay: relay, fromClient: false))
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return PostgresCutter(port: listener.localAddress!.port!, plan: plan, listener: listener)
    }

    private init(port: Int, plan: CutPlan, listener: any Channel) {
        self.port = port
        self.plan = plan
        self.listener = listener
    }

    /// `url` pointed at the relay, with TLS off so that the relay can read the protocol.
    public func relayedURL(_ url: String) throws -> String {
        guard var components = URLComponents(string: url) else { throw TestPostgresError.badURL(url) }
        components.host = "127.0.0.1"
        components.port = port
        components.queryItems = [URLQueryItem(name: "sslmode", value: "disable")]
        guard let relayed = components.string else { throw TestPostgresError.badURL(url) }
        return relayed
    }

    /// True once a connection was cut.
    public var hasCut: Bool { plan.isClaimed }

    public func stop() async {
        try? await listener.close()
    }
}

/// What to cut; the one cut goes to the first connection that claims it.
private final class CutPlan: @unchecked Sendable {
    let statement: String
    let marker: [UInt8]
    private let lock = NSLock()
    private var claimed = false

    init(statement: String, marker: [UInt8]) {
        self.statement = statement
        self.marker = marker
    }

    var isClaimed: Bool { lock.withLock { claimed } }

    /// True for the first caller only.
    func claim() -> Bool {
        lock.withLock {
            defer { claimed = true }
            return !claimed
        }
    }
}

/// One relayed connection; both of its channels live on one event loop.
private final class Relay {
    private let client: any Channel
    private let server: any Channel
    private let plan: CutPlan
    private enum State {
        case relaying
        /// The statement to cut was bound; its Sync becomes a Flush.
        case cutting
        /// Nothing more of the client's reaches the server.
        case withholding
        case cut
    }
    private var state = State.relaying

    init(client: any Channel, server: any Channel, plan: CutPlan) {
        self.client = client
        self.server = server
        self.plan = plan
    }

    func fromClient(_ message: ByteBuffer) {
        switch state {
        case .relaying:
            if message.messageType == UInt8(ascii: "B"), message.boundStatement == plan.statement,
               message.readableBytesView.contains(plan.marker), plan.claim() {
                state = .cutting
            }
            server.write(message, promise: nil)
        case .cutting where message.messageType == UInt8(ascii: "S"):
            state = .withholding
            server.write(ByteBuffer(bytes: [UInt8(ascii: "H"), 0, 0, 0, 4]), promise: nil)
        case .cutting:
            server.write(message, promise: nil)
        case .withholding, .cut:
            break
        }
    }

    func fromServer(_ message: ByteBuffer) {
        if case .cut = state { return }
        client.write(message, promise: nil)
        guard case .withholding = state, message.messageType == UInt8(ascii: "C") else { return }
        state = .cut
        // The answer leaves first, as a stopping backend's does; then the server's side closes
        // (its backend sees its client gone and rolls back) and the client hears what a backend
        // told to stop says.
        client.flush()
        server.close(promise: nil)
        client.writeAndFlush(ByteBuffer.adminShutdown, promise: nil)
        client.close(promise: nil)
    }

    func flush() {
        client.flush()
        server.flush()
    }

    func close() {
        client.close(promise: nil)
        server.close(promise: nil)
    }
}

/// Reads one side of a relayed connection as PostgreSQL messages.
private final class RelayLeg: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let relay: Relay
    private let fromClient: Bool
    private var pending = ByteBuffer()
    /// The client's first message (startup) has no type byte.
    private var untyped: Bool

    init(relay: Relay, fromClient: Bool) {
        self.relay = relay
        self.fromClient = fromClient
        untyped = fromClient
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        pending.writeBuffer(&bytes)
        while let message = nextMessage() {
            if fromClient { relay.fromClient(message) } else { relay.fromServer(message) }
        }
        relay.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        relay.close()
    }

    /// A type byte (but at startup) and a length that counts itself.
    private func nextMessage() -> ByteBuffer? {
        let header = untyped ? 4 : 5
        guard pending.readableBytes >= header,
              let length = pending.getInteger(at: pending.readerIndex + header - 4, as: Int32.self),
              pending.readableBytes >= header - 4 + Int(length) else { return nil }
        untyped = false
        return pending.readSlice(length: header - 4 + Int(length))
    }
}

private extension ByteBuffer {
    /// The ErrorResponse of a backend stopped by `pg_ctl stop -m fast` (SQLSTATE 57P01).
    static var adminShutdown: ByteBuffer {
        var fields: [UInt8] = []
        for (code, value) in [("S", "FATAL"), ("V", "FATAL"), ("C", "57P01"), ("M", "terminating connection due to administrator command")] {
            fields += Array(code.utf8) + Array(value.utf8) + [0]
        }
        fields.append(0)
        var buffer = ByteBuffer(bytes: [UInt8(ascii: "E")])
        buffer.writeInteger(Int32(4 + fields.count))
        buffer.writeBytes(fields)
        return buffer
    }

    var messageType: UInt8? { getInteger(at: readerIndex, as: UInt8.self) }

    /// A Bind message's statement name (after its type, length and portal name).
    var boundStatement: String? {
        let body = readerIndex + 5
        guard let portalEnd = readableBytesView[body...].firstIndex(of: 0),
              let statementEnd = readableBytesView[(portalEnd + 1)...].firstIndex(of: 0) else { return nil }
        return getString(at: portalEnd + 1, length: statementEnd - portalEnd - 1)
    }
}
