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
    /// When the connection is closed unless something happens first, and whether that would be a missed head; nil
    /// while a request is being read or answered.
    private var deadline: (at: NIODeadline, headMissed: Bool, delay: TimeAmount)?
    /// The one timer of the connection, and when it fires. A request moves the deadline without touching the timer:
    /// scheduling and cancelling a task twice per request took a tenth of the server's time over HTTPS keep-alive.
    /// The timer fires at most ``period`` after it was set, looks at the deadline, and sets itself again if the
    /// deadline has moved on.
    private var timer: Scheduled<Void>?
    private var period: TimeAmount { min(headTimeout, HTTPRequestDeadline.idleTimeout) }

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
        closed = true
        timer?.cancel()
        timer = nil
        deadline = nil
        limits.release(client)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closed = true
        timer?.cancel()
        timer = nil
    }

    /// Set once the connection is gone: a response finished after that (its write's callback comes after the close)
    /// sets no timer. One that did held the connection's whole pipeline until it fired: under a storm of
    /// connections that each made one request, thousands of closed connections' TLS buffers at once (430 MB).
    private var closed = false

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
        deadline = nil
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
        guard !closed else { return }
        let now = NIODeadline.now()
        deadline = (now + delay, headMissed, delay)
        // A timer already set fires within `period` of its setting, never later than this deadline would need.
        guard timer == nil else { return }
        schedule(context, at: min(now + delay, now + period))
    }

    private func schedule(_ context: ChannelHandlerContext, at time: NIODeadline) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: time) {
            let (handler, context) = bound.value
            handler.timer = nil
            handler.fired(context)
        }
    }

    private func fired(_ context: ChannelHandlerContext) {
        guard let deadline else { return }  // a request is being read or answered: the next arm sets a timer
        let now = NIODeadline.now()
        guard now >= deadline.at else { return schedule(context, at: min(deadline.at, now + period)) }
        // A response still being written (a phone slowly reading firmware) is neither idle nor late: the answers
        // are queued as soon as a head is read, so look again later.
        guard context.channel.isWritable else {
            return arm(context, after: deadline.delay, headMissed: deadline.headMissed)
        }
        if deadline.headMissed { metrics.event("head-timeout") }
        context.close(promise: nil)
    }
}
