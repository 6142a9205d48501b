import FileService
import NIOCore

/// First in an HTTP(S) connection's SwiftNIO pipeline: closes a connection whose TLS handshake and request head do
/// not arrive within the head timeout, counted from the connection's start or from the first byte after an answered
/// request (S6). An idle keep-alive connection is closed after ``idleTimeout``.
final class HTTPRequestDeadline: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// As the fast path's (nginx's `keepalive_timeout` is 75 s).
    static let idleTimeout: TimeAmount = .seconds(60)

    private enum Phase {
        /// Waiting for a request head, since the connection began or since this request's first byte.
        case head
        /// A request is being read or answered: no deadline here.
        case request
        /// Between requests, nothing received yet.
        case idle
    }

    private let headTimeout: TimeAmount
    private let metrics: ServerMetrics
    private var phase = Phase.head
    private var timer: Scheduled<Void>?

    /// Where the connection is counted, released when it closes.
    private let limits: ConnectionLimits
    private let client: String

    init(headTimeout: TimeAmount, metrics: ServerMetrics, limits: ConnectionLimits, client: String) {
        self.headTimeout = headTimeout
        self.metrics = metrics
        self.limits = limits
        self.client = client
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context, after: headTimeout, headMissed: true)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        limits.release(client)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .idle = phase {
            phase = .head
            arm(context, after: headTimeout, headMissed: true)
        }
        context.fireChannelRead(data)
    }

    /// The request head has arrived whole.
    func headArrived() {
        phase = .request
        timer?.cancel()
        timer = nil
    }

    /// Requests were answered and the next head has begun: its deadline starts now.
    func awaitingHead(context: ChannelHandlerContext) {
        phase = .head
        arm(context, after: headTimeout, headMissed: true)
    }

    /// The response is written and the connection stays open for the next request.
    func responseFinished(context: ChannelHandlerContext) {
        phase = .idle
        arm(context, after: HTTPRequestDeadline.idleTimeout, headMissed: false)
    }

    private func arm(_ context: ChannelHandlerContext, after delay: TimeAmount, headMissed: Bool) {
        timer?.cancel()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = bound.value
            // A response still being written (a phone slowly reading firmware) is neither idle nor late: the
            // answers are queued as soon as a head is read, so look again later.
            guard context.channel.isWritable else { return handler.arm(context, after: delay, headMissed: headMissed) }
            if headMissed { handler.metrics.event("head-timeout") }
            context.close(promise: nil)
        }
    }
}
