import LabProtocol
import NIOCore
import Recording

/// The network-side start of a TLS listening connection: holds the bytes until the ClientHello is
/// whole, tells the connection handler (`TLSEvent.clientHello`), and, at once or once told
/// (`TLSProceed`, with the protocol to choose), puts the TLS handlers for that name behind itself,
/// hands them the bytes and leaves. Bytes that are not TLS end it with one clear failure.
final class TLSAcceptor: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer

    private enum State {
        case awaitingHello
        case awaitingProceed(ClientHello)
        case done
    }

    private let tls: ServerTLS
    private var state = State.awaitingHello
    private var held: ByteBuffer?

    init(tls: ServerTLS) {
        self.tls = tls
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        switch state {
        case .done:
            return  // failed: nothing more is read
        case .awaitingProceed:
            held?.writeBuffer(&buffer)
        case .awaitingHello:
            if held == nil { held = buffer } else { held!.writeBuffer(&buffer) }
            scanHello(context: context)
        }
    }

    private func scanHello(context: ChannelHandlerContext) {
        guard let held else { return }
        switch TLSHelloParser.clientHello(held.readableBytesView) {
        case .incomplete:
            return
        case .notTLS:
            fail(TLSFailure.notTLS(firstBytes: "\"" + Escaping.escape(held.readableBytesView.prefix(24)) + "\""), context: context)
        case .malformed:
            fail(TLSFailure.malformedHello, context: context)
        case .hello(let hello):
            state = .awaitingProceed(hello)
            context.fireUserInboundEventTriggered(TLSEvent.clientHello(hello))
            if case .immediately = tls.start { proceed(choosing: nil, context: context) }
        }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let proceed = event as? TLSProceed else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        self.proceed(choosing: proceed.applicationProtocol, context: context)
        promise?.succeed(())
    }

    private func proceed(choosing applicationProtocol: String?, context: ChannelHandlerContext) {
        guard case .awaitingProceed(let hello) = state else { return }
        state = .done
        do {
            let chosen = applicationProtocol.flatMap { hello.applicationProtocols.contains($0) ? $0 : nil }
            try context.pipeline.syncOperations.addHandlers(
                try tls.handlers(for: hello, applicationProtocol: chosen), position: .after(self))
        } catch {
            fail(error, context: context)
            return
        }
        if let held { context.fireChannelRead(wrapInboundOut(held)) }
        held = nil
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event, case .awaitingHello = state {
            fail(held == nil ? TLSFailure.closedBeforeHello : TLSFailure.other("closed in the middle of its ClientHello"), context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .awaitingHello = state {
            fail(held == nil ? TLSFailure.closedBeforeHello : TLSFailure.other("closed in the middle of its ClientHello"), context: context)
        }
        context.fireChannelInactive()
    }

    /// The observer behind turns the error into `TLSEvent.failed` and closes.
    private func fail(_ error: Error, context: ChannelHandlerContext) {
        state = .done
        held = nil
        context.fireErrorCaught(error)
    }
}
