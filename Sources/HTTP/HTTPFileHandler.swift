import FileService
import NIOCore
import NIOHTTP1

/// One connection's requests, in order.
final class HTTPFileHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    struct ShutdownEvent {}

    enum State {
        case idle
        case readingHead(HTTPRequestHead, FileRequest)
        case readingBody(HTTPRequestHead, FileRequest, limit: Int, body: ByteBuffer)
        case discardingBody(HTTPRequestHead, FileRequest, HTTPReply)
        case responding
    }

    let service: FileService
    let isTLS: Bool
    var state = State.idle
    var queued: [HTTPServerRequestPart] = []
    var shuttingDown = false

    init(service: FileService, isTLS: Bool) {
        self.service = service
        self.isTLS = isTLS
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .responding = state {
            queued.append(part)  // pipelined requests wait their turn
            return
        }
        handle(part, context: context)
    }

    /// A request the decoder cannot parse: 400, then close (RFC 9112 §2.2).
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError else { return context.fireErrorCaught(error) }
        state = .responding
        let reply = ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in channel.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ShutdownEvent else { return context.fireUserInboundEventTriggered(event) }
        shuttingDown = true
        if case .idle = state { context.close(promise: nil) }
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch (part, state) {
        case (.head(let head), .idle):
            deadline(context)?.headArrived()
            let request = fileRequest(head, context: context)
            if HTTPRoute.of(method: head.method, path: request.path, isTLS: isTLS) == .write {
                let (refusal, limit) = HTTPExchange.uploadPrecheck(request, head: head, service: service)
                if let refusal {
                    if refusal.status == .payloadTooLarge {
                        respond(refusal, head: head, request: request, context: context)
                    } else {
                        state = .discardingBody(head, request, refusal)
                    }
                } else {
                    state = .readingBody(head, request, limit: limit, body: context.channel.allocator.buffer(capacity: 0))
                }
            } else {
                state = .readingHead(head, request)
            }
        case (.body(var chunk), .readingBody(let head, let request, let limit, var body)):
            guard body.readableBytes + chunk.readableBytes <= limit else {
                var reply = HTTPReply(status: .payloadTooLarge, result: "too-large")
                reply.close = true
                respond(reply, head: head, request: request, context: context)
                return
            }
            body.writeBuffer(&chunk)
            state = .readingBody(head, request, limit: limit, body: body)
        case (.body, _):
            break
        case (.end, .readingHead(let head, let request)):
            read(head, request, context: context)
        case (.end, .readingBody(let head, let request, _, let body)):
            state = .responding
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let service = self.service
            Task {
                let answer = await service.write(request, contents: body)
                loopBound.eventLoop.execute {
                    let (handler, context) = loopBound.value
                    handler.respond(HTTPExchange.write(answer, bytes: body.readableBytes, service: service),
                                    head: head, request: request, context: context)
                }
            }
        case (.end, .discardingBody(let head, let request, let reply)):
            var reply = reply
            reply.close = false
            respond(reply, head: head, request: request, context: context)
        default:
            break
        }
    }

    private func read(_ head: HTTPRequestHead, _ request: FileRequest, context: ChannelHandlerContext) {
        switch HTTPRoute.of(method: head.method, path: request.path, isTLS: isTLS) {
        case .metrics:
            respond(HTTPExchange.metrics(service), head: head, request: request, context: context)
        case .read:
            // On the event loop: nothing is read from disk here (a miss is loaded off the loop).
            let pending: PendingLoad
            switch service.decide(request, readingUpTo: 0) {
            case .answer(let answer):
                respond(HTTPExchange.read(answer, head: head, service: service), head: head, request: request,
                        context: context)
                return
            case .load(let load):
                pending = load
            }
            state = .responding
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let service = self.service
            Task {
                let answer = await service.load(pending)
                loopBound.eventLoop.execute {
                    let (handler, context) = loopBound.value
                    handler.respond(HTTPExchange.read(answer, head: head, service: service), head: head,
                                    request: request, context: context)
                }
            }
        case .write, .notAllowed:
            var reply = HTTPReply(status: .methodNotAllowed, result: "bad-method")
            reply.headers = ["Allow": "GET, HEAD, PUT"]
            respond(reply, head: head, request: request, context: context)
        }
    }

    private func respond(_ reply: HTTPReply, head: HTTPRequestHead, request: FileRequest,
                         context: ChannelHandlerContext) {
        state = .responding
        if reply.delay > .zero {
            var undelayed = reply
            undelayed.delay = .zero
            let loopBound = NIOLoopBound((self, context, undelayed), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: TimeAmount(reply.delay)) {
                let (handler, context, undelayed) = loopBound.value
                handler.respond(undelayed, head: head, request: request, context: context)
            }
            return
        }
        let started = ContinuousClock.now
        let keepAlive = head.isKeepAlive && !reply.close && !shuttingDown
        let serialized = HTTPExchange.head(of: reply, method: head.method, version: head.version, keepAlive: keepAlive)
        let written: EventLoopFuture<Void>
        if let body = reply.body {
            context.write(wrapOutboundOut(serialized), promise: nil)
            written = context.writeAndFlushPromise(wrapOutboundOut(body))
        } else {
            written = context.writeAndFlushPromise(wrapOutboundOut(serialized))
        }
        service.record(request, result: reply.result, bytes: reply.bytes,
                       seconds: (ContinuousClock.now - started).seconds)
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
            state = .responding
            return
        }
        state = .idle
        // Once this answer is written, with nothing else asked, the connection is idle (a slow phone reading
        // firmware is not).
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        written.whenSuccess {
            let (handler, context) = loopBound.value
            if case .idle = handler.state, handler.queued.isEmpty { handler.deadline(context)?.responseFinished(context: context) }
        }
        // Requests that arrived meanwhile, in order, until one has to wait again.
        while !queued.isEmpty {
            if case .responding = state { break }
            handle(queued.removeFirst(), context: context)
        }
    }

    /// The connection's head deadline (first in the pipeline), found once.
    private func deadline(_ context: ChannelHandlerContext) -> HTTPRequestDeadline? {
        if deadlineHandler == nil {
            deadlineHandler = try? context.pipeline.syncOperations.handler(type: HTTPRequestDeadline.self)
        }
        return deadlineHandler
    }

    private var deadlineHandler: HTTPRequestDeadline?

    private func fileRequest(_ head: HTTPRequestHead, context: ChannelHandlerContext) -> FileRequest {
        let path = HTTPRoute.path(of: Substring(head.uri))
        var request = FileRequest(
            isTLS ? .https : .http, path: String(path),
            client: client(context),
            userAgent: head.headers.first(name: "User-Agent"), credentials: HTTPExchange.credentials(head))
        if isTLS { request.certificateSubject = peerSubject(context) }
        return request
    }

    private var peer = ConnectionPeer()

    private func client(_ context: ChannelHandlerContext) -> String { peer.address(context) }

    private func peerSubject(_ context: ChannelHandlerContext) -> String? { peer.certificateSubject(context) }
}
