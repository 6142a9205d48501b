import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization
import X509

/// HTTP/1.1 and HTTPS on SwiftNIO: a thin front-end over ``FileService``.
///
/// Cached files are answered on the event loop without a task hop; loads and uploads go through the file
/// service's async calls. On shutdown the listener closes, idle connections close, and requests in flight
/// finish (bounded).
public final class HTTPServer: Service, Sendable {
    let name: String
    let host: String
    let port: Int
    let tls: NIOSSLContext?
    let service: FileService
    let logger: Logger
    let onBound: @Sendable (SocketAddress) -> Void
    let connections = Mutex<[ObjectIdentifier: any Channel]>([:])
    /// How long shutdown waits for requests in flight.
    let drainSeconds: Int64 = 10

    public init(name: String, host: String, port: Int, tls: NIOSSLContext?, service: FileService, logger: Logger,
                onBound: @escaping @Sendable (SocketAddress) -> Void) {
        self.name = name
        self.host = host
        self.port = port
        self.tls = tls
        self.service = service
        self.logger = logger
        self.onBound = onBound
    }

    public func run() async throws {
        #if os(Linux)
        if tls == nil {
            try await runWithFastPath()
            return
        }
        #endif
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.maxMessagesPerRead, value: 64)  // accept connection storms quickly
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try self.configure(channel, replaying: nil) }
            }
            .bind(host: host, port: port).get()
        onBound(server.localAddress!)
        await withGracefulShutdownHandler {
            try? await server.closeFuture.get()
        } onGracefulShutdown: {
            server.close(promise: nil)
        }
        await drainConnections()
    }

    #if os(Linux)
    /// Plain HTTP: cached GETs and HEADs on ``HTTPFastPath``'s epoll loops, everything else on SwiftNIO.
    private func runWithFastPath() async throws {
        let fastPath = try HTTPFastPath(host: host, port: port, threads: System.coreCount, service: service,
                                        logger: logger) { descriptor, bytes in
            self.adopt(descriptor, replaying: bytes)
        }
        fastPath.start()
        onBound(fastPath.address)
        await fastPath.runUntilShutdown(drainSeconds: drainSeconds)
        await drainConnections()
    }

    /// Takes over a connection from the fast path, with the bytes it read but did not answer.
    private func adopt(_ descriptor: Int32, replaying bytes: [UInt8]) {
        ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try self.configure(channel, replaying: bytes) }
            }
            .withConnectedSocket(descriptor)
            .whenFailure { error in
                self.logger.warning("http: could not take over a connection", metadata: ["error": "\(error)"])
            }
    }
    #endif

    /// The pipeline of one connection: TLS, then the quick handler (which adds the full path behind itself when a
    /// request needs it); or, for a connection the epoll fast path hands over, the full path at once, fed the
    /// bytes the fast path had read.
    private func configure(_ channel: any Channel, replaying bytes: [UInt8]?) throws {
        let pipeline = channel.pipeline.syncOperations
        // A connection the epoll path hands over was counted there; a new one is counted here (S6).
        let client = channel.remoteAddress?.ipAddress ?? "unknown"
        guard bytes != nil || service.connectionLimits.admit(client) else {
            channel.close(promise: nil)
            return
        }
        try pipeline.addHandler(HTTPRequestDeadline(headTimeout: .seconds(Int64(service.configuration.headTimeoutSeconds)),
                                                    metrics: service.metrics, limits: service.connectionLimits,
                                                    client: client))
        if let bytes {
            try pipeline.addHandler(ReplayHandler(bytes: bytes))
            try addFullPath(pipeline, after: nil)
        } else {
            if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
            try pipeline.addHandler(HTTPQuickHandler(service: service, isTLS: tls != nil) { pipeline, quick in
                try self.addFullPath(pipeline, after: quick)
            })
        }
        let id = ObjectIdentifier(channel)
        connections.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in _ = self.connections.withLock { $0.removeValue(forKey: id) } }
    }

    /// The request decoder and the file handler: the handler keeps pipelined requests in order, answers malformed
    /// ones with 400, and writes response heads itself (a cached file's head is serialized once).
    private func addFullPath(_ pipeline: ChannelPipeline.SynchronousOperations, after quick: HTTPQuickHandler?) throws {
        let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes))
        let handler = HTTPFileHandler(service: service, isTLS: tls != nil)
        if let quick {
            try pipeline.addHandler(decoder, position: .after(quick))
            try pipeline.addHandler(handler, position: .after(decoder))
        } else {
            try pipeline.addHandler(decoder)
            try pipeline.addHandler(handler)
        }
    }

    /// After the listener stops: idle connections close, requests in flight finish (bounded).
    private func drainConnections() async {
        for connection in connections.withLock({ Array($0.values) }) {
            connection.pipeline.fireUserInboundEventTriggered(HTTPFileHandler.ShutdownEvent())
        }
        let deadline = ContinuousClock.now + .seconds(drainSeconds)
        while !connections.withLock({ $0.isEmpty }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for connection in connections.withLock({ Array($0.values) }) { connection.close(promise: nil) }
    }
}

/// Who is at the other end of a connection, worked out once per connection.
struct ConnectionPeer {
    private var client: String?
    private var subject: String??

    /// The client's address.
    mutating func address(_ context: ChannelHandlerContext) -> String {
        if let client { return client }
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        client = address
        return address
    }

    /// The subject of the certificate the client presented over TLS (mutual TLS), if any.
    mutating func certificateSubject(_ context: ChannelHandlerContext) -> String? {
        if let subject { return subject }
        let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
        let found = (try? handler?.peerCertificate?.toDERBytes()).flatMap { try? Certificate(derEncoded: $0) }?
            .subject.description
        subject = .some(found)
        return found
    }
}

/// Hands a connection taken over from the fast path the bytes the fast path had already read, first.
final class ReplayHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let bytes: [UInt8]

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(bytes: bytes)))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

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
            if head.method == .PUT {
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
        switch head.method {
        case .GET where request.path == "/metrics" && !isTLS:
            respond(HTTPExchange.metrics(service), head: head, request: request, context: context)
        case .GET, .HEAD:
            if let answer = service.readImmediately(request) {
                respond(HTTPExchange.read(answer, head: head, service: service), head: head, request: request,
                        context: context)
                return
            }
            state = .responding
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let service = self.service
            Task {
                let answer = await service.read(request)
                loopBound.eventLoop.execute {
                    let (handler, context) = loopBound.value
                    handler.respond(HTTPExchange.read(answer, head: head, service: service), head: head,
                                    request: request, context: context)
                }
            }
        default:
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
        var path = Substring(head.uri)
        if let scheme = path.range(of: "://"), let slash = path[scheme.upperBound...].firstIndex(of: "/") {
            path = path[slash...]  // absolute-form request target
        }
        if let query = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<query] }
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

extension ChannelHandlerContext {
    func writeAndFlushPromise(_ data: NIOAny) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        writeAndFlush(data, promise: promise)
        return promise.futureResult
    }
}
