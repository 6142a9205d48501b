import FileService
import NIOCore
import NIOHTTP1
import WireProtocols

/// One connection's requests on the full pipeline: ``HTTPConnectionState`` decides what each part means, this
/// handler asks the file service and writes.
final class HTTPFileHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    struct ShutdownEvent {}

    let service: FileService
    let isTLS: Bool
    var state: HTTPConnectionState

    init(service: FileService, isTLS: Bool) {
        self.service = service
        self.isTLS = isTLS
        state = HTTPConnectionState(isTLS: isTLS)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        handle(unwrapInboundIn(data), context: context)
    }

    /// A request the decoder cannot parse: 400, then close (RFC 9112 §2.2); a head longer than `[limits]
    /// head_bytes`: 431, then close (RFC 6585 §5).
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? HTTPParserError else { return context.fireErrorCaught(error) }
        let status: String
        if error == .headerOverflow {
            status = "431 Request Header Fields Too Large"
            service.metrics.event("head-too-long")
        } else {
            status = "400 Bad Request"
        }
        state.closing()
        let reply = ByteBuffer(string: "HTTP/1.1 \(status)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in channel.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ShutdownEvent else { return context.fireUserInboundEventTriggered(event) }
        if state.shutdown() { context.close(promise: nil) }
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        if case .head = part, case .idle = state.phase { deadline(context)?.headArrived() }
        perform(state.received(part) { fileRequest($0, context: context) }, context: context)
    }

    private func perform(_ action: HTTPConnectionState.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .checkUpload(let request):
            let (refusal, limit) = HTTPExchange.uploadPrecheck(request.file, head: request.head, service: service)
            let action = state.uploadChecked(refusal, limit: limit, reservation: service.uploadBudget.reservation(),
                                             request: request)
            if refusal == nil, case .none = action, request.head.expectsContinue {
                // The body is welcome: the client (curl, for one) sends it once told so, not after a second's wait.
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n")), promise: nil)
            }
            perform(action, context: context)
        case .read(let request):
            read(request, context: context)
        case .write(let request, let body, let reservation):
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let service = self.service
            Task {
                let answer = await service.write(request.file, contents: body)
                reservation.release()
                loopBound.eventLoop.execute {
                    let (handler, context) = loopBound.value
                    handler.respond(HTTPExchange.write(answer, bytes: body.readableBytes, service: service),
                                    request: request, context: context)
                }
            }
        case .respond(let reply, let request):
            respond(reply, request: request, context: context)
        }
    }

    private func read(_ request: HTTPConnectionState.Request, context: ChannelHandlerContext) {
        let head = request.head
        switch HTTPRoute.of(method: head.method, path: request.file.path, isTLS: isTLS) {
        case .metrics:
            respond(HTTPExchange.metrics(service), request: request, context: context)
        case .read:
            // On the event loop: nothing is read from disk here (a miss is loaded off the loop).
            let pending: PendingLoad
            switch service.decide(request.file, readingUpTo: 0) {
            case .answer(let answer):
                return respond(HTTPExchange.read(answer, head: head, service: service), request: request, context: context)
            case .load(let load):
                pending = load
            }
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let service = self.service
            Task {
                let answer = await service.load(pending)
                loopBound.eventLoop.execute {
                    let (handler, context) = loopBound.value
                    handler.respond(HTTPExchange.read(answer, head: head, service: service), request: request,
                                    context: context)
                }
            }
        case .write, .notAllowed:
            var reply = HTTPReply(status: .methodNotAllowed, result: .badMethod)
            reply.headers = ["Allow": "GET, HEAD, PUT"]
            respond(reply, request: request, context: context)
        }
    }

    private func respond(_ reply: HTTPReply, request: HTTPConnectionState.Request, context: ChannelHandlerContext) {
        if reply.delay > .zero {
            var undelayed = reply
            undelayed.delay = .zero
            let loopBound = NIOLoopBound((self, context, undelayed), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: TimeAmount(reply.delay)) {
                let (handler, context, undelayed) = loopBound.value
                handler.respond(undelayed, request: request, context: context)
            }
            return
        }
        let started = ContinuousClock.now
        let head = request.head
        let keepAlive = state.writing(reply, for: request)
        let serialized = HTTPExchange.head(of: reply, method: head.method, version: head.version, keepAlive: keepAlive)
        let written: EventLoopFuture<Void>
        if let body = reply.body {
            context.write(wrapOutboundOut(serialized), promise: nil)
            written = context.writeAndFlushPromise(wrapOutboundOut(body))
        } else {
            written = context.writeAndFlushPromise(wrapOutboundOut(serialized))
        }
        service.record(request.file, result: reply.result, bytes: reply.bytes,
                       seconds: (ContinuousClock.now - started).seconds)
        guard keepAlive else {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
            return
        }
        // Once this answer is written, with nothing else asked, the connection is idle (a slow phone reading
        // firmware is not).
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        written.whenSuccess {
            let (handler, context) = loopBound.value
            if handler.state.isIdle { handler.deadline(context)?.responseFinished(context: context) }
        }
        // Requests that arrived meanwhile, in order, until one has to wait again.
        while let part = state.nextQueued() {
            handle(part, context: context)
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
        let path = HTTPRequestTarget.path(of: Substring(head.uri))
        var request = FileRequest(
            isTLS ? .https : .http, path: String(path),
            client: client(context),
            userAgent: head.headers.first(name: "User-Agent"), credentials: HTTPExchange.credentials(head))
        if isTLS { request.certificateSubject = peerSubject(context) }
        request.serverURL = FileRequest.serverURL(scheme: isTLS ? "https" : "http", host: head.headers.first(name: "Host"))
        return request
    }

    private var peer = ConnectionPeer()

    private func client(_ context: ChannelHandlerContext) -> String { peer.address(context) }

    private func peerSubject(_ context: ChannelHandlerContext) -> String? { peer.certificateSubject(context) }
}
