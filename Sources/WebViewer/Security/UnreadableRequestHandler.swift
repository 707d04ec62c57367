import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// The viewer's HTTP/1 server: Hummingbird's, with `UnreadableRequestHandler` right behind the parser.
struct ViewerHTTPChannel: ServerChildChannel {
    let http1: HTTP1Channel

    static let builder = HTTPServerBuilder { responder in ViewerHTTPChannel(http1: HTTP1Channel(responder: responder)) }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let parser = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(UnreadableRequestHandler(), position: .after(parser))
            return value
        }
    }

    func handle(value: HTTP1Channel.Value, logger: Logger) async {
        await http1.handle(value: value, logger: logger)
    }
}

/// A request the HTTP parser cannot read (an address and headers over 80 KiB, broken framing):
/// Hummingbird would answer 400 with an empty body. This answers as every other error does,
/// `{"error": …}` with the security headers, and closes. A parse error while a request is being
/// answered is left to Hummingbird: a second answer would garble the first.
final class UnreadableRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Requests read and not yet answered in full.
    private var unanswered = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { unanswered += 1 }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { unanswered -= 1 }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError, unanswered == 0 else {
            context.fireErrorCaught(error)
            return
        }
        let body = ViewerError.jsonBody(Self.reason(parseError))
        var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", String(body.count)), ("Connection", "close"),
                                   ("Cache-Control", SecurityHeaders.cacheControl)])
        for (name, value) in SecurityHeaders.fields { headers.add(name: name.rawName, value: value) }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .badRequest, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    static func reason(_ error: HTTPParserError) -> String {
        error == .headerOverflow
            ? "the request's address and headers are longer than the 80 KiB this viewer reads"
            : "the request is not HTTP/1.1 this viewer can read"
    }
}
