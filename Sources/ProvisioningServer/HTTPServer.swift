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
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.maxMessagesPerRead, value: 64)  // accept connection storms quickly
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls = self.tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
                    // The request decoder only: the handler keeps pipelined requests in order, answers malformed
                    // ones with 400, and writes response heads itself (a cached file's head is serialized once).
                    try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try pipeline.addHandler(HTTPFileHandler(service: self.service, isTLS: self.tls != nil))
                    let id = ObjectIdentifier(channel)
                    self.connections.withLock { $0[id] = channel }
                    channel.closeFuture.whenComplete { _ in _ = self.connections.withLock { $0.removeValue(forKey: id) } }
                }
            }
            .bind(host: host, port: port).get()
        onBound(server.localAddress!)
        await withGracefulShutdownHandler {
            try? await server.closeFuture.get()
        } onGracefulShutdown: {
            server.close(promise: nil)
        }
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
    var certificateSubject: String??

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
            context.eventLoop.scheduleTask(in: .nanoseconds(Int64(reply.delay.components.seconds) * 1_000_000_000
                                                            + reply.delay.components.attoseconds / 1_000_000_000)) {
                let (handler, context, undelayed) = loopBound.value
                handler.respond(undelayed, head: head, request: request, context: context)
            }
            return
        }
        let started = ContinuousClock.now
        var headers = reply.headers
        if reply.body == nil, headers.first(name: "Content-Length") == nil, reply.status != .notModified,
           head.method != .HEAD {
            headers.add(name: "Content-Length", value: "0")
        }
        let keepAlive = head.isKeepAlive && !reply.close && !shuttingDown
        let serialized: ByteBuffer
        if let prepared = reply.serializedHead, keepAlive, head.version == .http1_1 {
            serialized = prepared
        } else {
            if !keepAlive {
                headers.replaceOrAdd(name: "Connection", value: "close")
            } else if head.version.minor == 0 {
                headers.replaceOrAdd(name: "Connection", value: "keep-alive")
            }
            let version = head.version.major == 1 ? head.version : .http1_1
            serialized = HTTPExchange.serialize(version: version, status: reply.status, headers: headers)
        }
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
        // Requests that arrived meanwhile, in order, until one has to wait again.
        while !queued.isEmpty {
            if case .responding = state { break }
            handle(queued.removeFirst(), context: context)
        }
    }

    private func fileRequest(_ head: HTTPRequestHead, context: ChannelHandlerContext) -> FileRequest {
        var path = Substring(head.uri)
        if let scheme = path.range(of: "://"), let slash = path[scheme.upperBound...].firstIndex(of: "/") {
            path = path[slash...]  // absolute-form request target
        }
        if let query = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<query] }
        var request = FileRequest(
            protocolName: isTLS ? "https" : "http", path: String(path), isPercentEncoded: true,
            client: client(context),
            userAgent: head.headers.first(name: "User-Agent"), credentials: HTTPExchange.credentials(head))
        if isTLS { request.certificateSubject = peerSubject(context) }
        return request
    }

    private var knownClient: String?

    /// The client's address, worked out once per connection.
    private func client(_ context: ChannelHandlerContext) -> String {
        if let knownClient { return knownClient }
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        knownClient = address
        return address
    }

    /// The subject of the client's certificate (mutual TLS), read once per connection.
    private func peerSubject(_ context: ChannelHandlerContext) -> String? {
        if let known = certificateSubject { return known }
        let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
        let subject = (try? handler?.peerCertificate?.toDERBytes()).flatMap { try? Certificate(derEncoded: $0) }?
            .subject.description
        certificateSubject = .some(subject)
        return subject
    }
}

extension ChannelHandlerContext {
    func writeAndFlushPromise(_ data: NIOAny) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        writeAndFlush(data, promise: promise)
        return promise.futureResult
    }
}
