import NIOCore

/// On the network side of a `NIOSSLHandler`: reads the ServerHello as it passes (inbound for a
/// client, outbound for a server) for the cipher suite NIOSSL does not expose, and notes a
/// plaintext alert the peer sends during the handshake (a TLS 1.3 client rejecting our certificate
/// sends one BoringSSL only calls a bad packet). The `TLSObserver` removes it once the handshake is done.
final class HelloTap: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Role { case client, server }

    private let role: Role
    private var seen: [UInt8] = []
    private var lookingForServerHello = true
    private(set) var serverHello: ServerHello?
    /// The description code of a plaintext alert from the peer.
    private(set) var peerAlert: UInt8?
    private var records = RecordScanner()

    init(role: Role) {
        self.role = role
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if role == .client { look(at: buffer) }
        if peerAlert == nil, records.isScanning { peerAlert = records.alert(in: buffer) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if role == .server { look(at: unwrapOutboundIn(data)) }
        context.write(data, promise: promise)
    }

    private func look(at buffer: ByteBuffer) {
        guard lookingForServerHello else { return }
        seen += buffer.readableBytesView
        switch TLSHelloParser.serverHello(seen) {
        case .incomplete:
            return
        case .hello(let hello):
            serverHello = hello
        case .notTLS, .malformed:
            break  // an alert instead, say: NIOSSL reports it
        }
        lookingForServerHello = false
        seen = []
    }
}

/// Walks TLS records across reads for a plaintext alert (content type 21), for the first 64 KiB
/// (the hello tap leaves the pipeline when the handshake is done).
struct RecordScanner {
    private var pending: [UInt8] = []
    private var scanned = 0
    private(set) var isScanning = true

    private mutating func stop() {
        isScanning = false
        pending = []
    }

    mutating func alert(in buffer: ByteBuffer) -> UInt8? {
        pending += buffer.readableBytesView
        scanned += buffer.readableBytes
        if scanned > TLSHelloParser.maxHelloBytes { stop() }
        while pending.count >= 5 {
            let length = Int(pending[3]) << 8 | Int(pending[4])
            guard pending.count >= 5 + length else { return nil }
            let record = pending[0..<5 + length]
            pending.removeFirst(5 + length)
            if record.first == 21, length == 2 { return record[record.startIndex + 6] }
        }
        return nil
    }
}
