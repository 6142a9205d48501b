import FileService
import NIOCore
import NIOHTTP1
import WireProtocols

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
    /// Heads longer than this go to the full path, which refuses them.
    let headLimit: Int
    /// Adds the full path's handlers after this one.
    let addFullPath: (ChannelPipeline.SynchronousOperations, HTTPQuickHandler) throws -> Void
    private var buffered: ByteBuffer?
    private var handedOff = false
    private var shuttingDown = false
    /// Responses written but not yet taken by the socket (shutdown waits for them).
    private var unfinishedWrites = 0
    private var peer = ConnectionPeer()

    init(service: FileService, isTLS: Bool, headLimit: Int,
         addFullPath: @escaping (ChannelPipeline.SynchronousOperations, HTTPQuickHandler) throws -> Void) {
        self.service = service
        self.isTLS = isTLS
        self.headLimit = headLimit
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
        // Requests behind an upload being stored wait for its answer; a phone sends none, so a pile of them is no
        // phone's (S6).
        guard !storing else {
            buffered = bytes
            if bytes.readableBytes > HTTPFastUpload.mostHeldWhileStoring { context.close(promise: nil) }
            return
        }
        process(bytes, context: context)
    }

    /// Answers the requests at the start of `bytes`, until one must wait (an upload being stored) or go to the
    /// full path; keeps the rest.
    private func process(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        var bytes = bytes
        let client = peer.address(context)
        let subject = isTLS ? peer.certificateSubject(context) : nil
        var handOff = false
        var answered = 0
        var wrote = false
        bytes.withUnsafeReadableBytes { raw in
            while answered < raw.count {
                switch HTTPHeadScanner.scan(UnsafeRawBufferPointer(rebasing: raw[answered...]), limit: headLimit) {
                case .incomplete:
                    return
                case .handOff:
                    handOff = true
                    return
                case .request(let head):
                    if head.method == .put {
                        // An upload that closes the connection after its answer is the full path's business.
                        guard !head.close else {
                            handOff = true
                            return
                        }
                        switch HTTPFastUpload.plan(head, body: UnsafeRawBufferPointer(rebasing: raw[(answered + head.length)...]),
                                                   fileProtocol: isTLS ? .https : .http, client: client,
                                                   certificateSubject: subject, service: service) {
                        case .incomplete:
                            return
                        case .handOff:
                            handOff = true
                            return
                        case .store(let request, let contents, let permission, let reservation):
                            store(request, contents, permission, reservation, context: context)
                            answered += head.length + head.contentLength
                            return
                        }
                    }
                    var last: ByteBuffer?
                    let outcome = HTTPQuickAnswer.answer(
                        head, fileProtocol: isTLS ? .https : .http, client: client, certificateSubject: subject,
                        service: service, keepAlive: !head.close
                    ) { buffer in
                        if let previous = last { context.write(wrapOutboundOut(previous), promise: nil) }
                        last = buffer
                    }
                    guard case .answered(let staysOpen) = outcome, let last else {
                        handOff = true
                        return
                    }
                    // `Connection: close` (a phone's way): closed once this answer is written, nothing read after it.
                    if !staysOpen { shuttingDown = true }
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
                    if shuttingDown {
                        answered = raw.count
                        return
                    }
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

    /// An upload is being stored off the loop (``store(_:_:context:)``).
    private var storing = false

    /// Stores an upload off the loop; its answer is written when it is stored, then the requests behind it go on.
    private func store(_ request: FileRequest, _ contents: ByteBuffer, _ permission: UploadPermission,
                       _ reservation: UploadReservation, context: ChannelHandlerContext) {
        storing = true
        unfinishedWrites += 1  // its answer, not yet written: shutdown waits for it
        let started = ContinuousClock.now
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        service.write(request, contents: contents, permitted: permission) { answer in
            reservation.release()
            loopBound.eventLoop.execute {
                let (handler, context) = loopBound.value
                handler.stored(answer, request: request, bytes: contents.readableBytes, started: started, context: context)
            }
        }
    }

    private func stored(_ answer: WriteAnswer, request: FileRequest, bytes: Int, started: ContinuousClock.Instant,
                        context: ChannelHandlerContext) {
        storing = false
        let reply = HTTPFastUpload.reply(to: answer, request: request, bytes: bytes, started: started, service: service)
        context.write(wrapOutboundOut(HTTPExchange.head(of: reply, method: .PUT, version: .http1_1, keepAlive: true)),
                      promise: nil)
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(reply.body ?? ByteBuffer()), promise: promise)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        promise.futureResult.whenComplete { _ in
            let (handler, context) = loopBound.value
            handler.unfinishedWrites -= 1
            if handler.shuttingDown, !handler.handedOff, handler.unfinishedWrites == 0 { context.close(promise: nil) }
            if !handler.handedOff, !handler.storing, handler.unfinishedWrites == 0, handler.buffered == nil {
                handler.deadline(context)?.responseFinished(context: context)
            }
        }
        if let waiting = buffered, !shuttingDown {
            buffered = nil
            process(waiting, context: context)
        }
    }

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
