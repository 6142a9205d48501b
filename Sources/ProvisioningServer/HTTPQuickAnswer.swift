import NIOCore
import NIOHTTP1

/// The answer to a request head that ``HTTPHeadScanner`` accepted, shared by the epoll fast path (plain HTTP) and
/// ``HTTPQuickHandler`` (HTTPS, and plain HTTP where there is no epoll): the same ``FileService`` calls and
/// ``HTTPExchange`` replies as the full path, without building an `HTTPRequestHead` for the common case.
enum HTTPQuickAnswer {
    enum Outcome {
        /// The full path must answer this request (and the rest of the connection).
        case handOff
        /// Answered; whether the connection stays open.
        case answered(staysOpen: Bool)
    }

    /// Files up to this size are read from disk on the spot; larger ones are loaded off the caller's thread by the
    /// full path.
    static let largestLoad = 1024 * 1024

    /// Answers a request by passing the response's buffers, in order, to `emit`.
    static func answer(_ head: FastRequestHead, fileProtocol: FileProtocol, client: String, certificateSubject: String?,
                       service: FileService, keepAlive: Bool, emit: (ByteBuffer) -> Void) -> Outcome {
        // Credentials (which may slow an answer down), and the metrics page, take the full path.
        guard head.authorization == nil, head.path != "/metrics" else { return .handOff }
        let started = ContinuousClock.now
        let request = FileRequest(fileProtocol, path: head.path, client: client,
                                  userAgent: head.userAgent, certificateSubject: certificateSubject)
        guard let answer = service.readNow(request, loadingUpTo: largestLoad) else { return .handOff }
        if case .file(let file) = answer, keepAlive, head.ifNoneMatch == nil, head.range == nil {
            // The common case: the head and body prepared once per file.
            emit(file.serializedHead)
            if !head.isHead { emit(file.contents) }
            service.record(request, result: "ok", bytes: head.isHead ? 0 : file.contents.readableBytes,
                           seconds: (ContinuousClock.now - started).seconds)
            return .answered(staysOpen: true)
        }
        var headers = HTTPHeaders()
        if let value = head.ifNoneMatch { headers.add(name: "If-None-Match", value: value) }
        if let value = head.range { headers.add(name: "Range", value: value) }
        let requestHead = HTTPRequestHead(version: .http1_1, method: head.isHead ? .HEAD : .GET, uri: head.path,
                                          headers: headers)
        let reply = HTTPExchange.read(answer, head: requestHead, service: service)
        guard reply.delay == .zero else { return .handOff }
        let staysOpen = keepAlive && !reply.close
        emit(HTTPExchange.head(of: reply, method: requestHead.method, version: .http1_1, keepAlive: staysOpen))
        if let body = reply.body { emit(body) }
        service.record(request, result: reply.result, bytes: reply.bytes, seconds: (ContinuousClock.now - started).seconds)
        return .answered(staysOpen: staysOpen)
    }
}

/// The first handler after TLS (and, where there is no epoll fast path, after the socket): answers the requests
/// ``HTTPHeadScanner`` accepts with ``HTTPQuickAnswer``, straight from the bytes. At the first request it does not
/// answer it puts the full path (request decoder and ``HTTPFileHandler``) behind itself, passes it every byte not
/// yet answered, and from then on only forwards. Responses stay in request order: the quick ones are written
/// before the full path sees its first byte.
final class HTTPQuickHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let service: FileService
    let isTLS: Bool
    /// Adds the full path's handlers after this one.
    let addFullPath: (ChannelPipeline.SynchronousOperations, HTTPQuickHandler) throws -> Void
    private var buffered: ByteBuffer?
    private var handedOff = false
    private var shuttingDown = false
    /// Responses written but not yet taken by the socket (shutdown waits for them).
    private var unfinishedWrites = 0
    private var peer = ConnectionPeer()

    init(service: FileService, isTLS: Bool,
         addFullPath: @escaping (ChannelPipeline.SynchronousOperations, HTTPQuickHandler) throws -> Void) {
        self.service = service
        self.isTLS = isTLS
        self.addFullPath = addFullPath
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !handedOff else { return context.fireChannelRead(data) }
        var bytes = unwrapInboundIn(data)
        if var earlier = buffered {
            earlier.writeBuffer(&bytes)
            bytes = earlier
            buffered = nil
        }
        guard !shuttingDown else { return }
        let client = peer.address(context)
        let subject = isTLS ? peer.certificateSubject(context) : nil
        var handOff = false
        var answered = 0
        var wrote = false
        bytes.withUnsafeReadableBytes { raw in
            while answered < raw.count {
                switch HTTPHeadScanner.scan(UnsafeRawBufferPointer(rebasing: raw[answered...])) {
                case .incomplete:
                    return
                case .handOff:
                    handOff = true
                    return
                case .request(let head):
                    // Closing after a response is the full path's business (it waits for the write).
                    guard !head.close else {
                        handOff = true
                        return
                    }
                    var last: ByteBuffer?
                    let outcome = HTTPQuickAnswer.answer(
                        head, fileProtocol: isTLS ? .https : .http, client: client, certificateSubject: subject,
                        service: service, keepAlive: true
                    ) { buffer in
                        if let previous = last { context.write(wrapOutboundOut(previous), promise: nil) }
                        last = buffer
                    }
                    guard case .answered = outcome, let last else {
                        handOff = true
                        return
                    }
                    unfinishedWrites += 1
                    let promise = context.eventLoop.makePromise(of: Void.self)
                    context.write(wrapOutboundOut(last), promise: promise)
                    let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                    promise.futureResult.whenComplete { _ in
                        let (handler, context) = loopBound.value
                        handler.unfinishedWrites -= 1
                        if handler.shuttingDown, !handler.handedOff, handler.unfinishedWrites == 0 {
                            context.close(promise: nil)
                        }
                        // Everything answered has been written: the connection is idle from now on.
                        if !handler.handedOff, handler.unfinishedWrites == 0, handler.buffered == nil {
                            handler.deadline(context)?.responseFinished(context: context)
                        }
                    }
                    wrote = true
                    answered += head.length
                }
            }
        }
        bytes.moveReaderIndex(forwardBy: answered)
        if wrote { context.flush() }
        if handOff {
            handOver(context: context, bytes)
        } else if bytes.readableBytes > 0 {
            buffered = bytes
            // A head begun after the ones answered: its own deadline.
            if wrote { deadline(context)?.awaitingHead(context: context) }
        }
    }

    private var deadlineHandler: HTTPRequestDeadline?

    /// The connection's head deadline (first in the pipeline), found once.
    private func deadline(_ context: ChannelHandlerContext) -> HTTPRequestDeadline? {
        if deadlineHandler == nil {
            deadlineHandler = try? context.pipeline.syncOperations.handler(type: HTTPRequestDeadline.self)
        }
        return deadlineHandler
    }

    private func handOver(context: ChannelHandlerContext, _ remaining: ByteBuffer) {
        handedOff = true
        do {
            try addFullPath(context.pipeline.syncOperations, self)
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(wrapInboundOut(remaining))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is HTTPFileHandler.ShutdownEvent, !handedOff else {
            return context.fireUserInboundEventTriggered(event)
        }
        shuttingDown = true
        if unfinishedWrites == 0 { context.close(promise: nil) }
    }
}
