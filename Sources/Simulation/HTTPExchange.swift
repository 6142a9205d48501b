import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ProvisioningCore

/// One HTTP(S) GET on a connection of its own, as a phone makes it (`Connection: close`), waited for.
struct HTTPExchange {
    let url: ProvisioningURL
    let group: EventLoopGroup
    let tls: NIOSSLContext?
    let userAgent: String
    let authorization: String?
    let timeout: TimeAmount
    /// GET, or PUT with ``body`` (an upload, R5.4).
    var method: HTTPMethod = .GET
    var body: [UInt8] = []

    struct Answer: Equatable {
        var status: Int
        var body: [UInt8]
        /// `WWW-Authenticate`, when the server asks for credentials.
        var challenge: String?
    }

    /// Waits for the answer (not on an event loop).
    func run() throws -> Answer { try start(on: group.next()).wait() }

    /// Connects, sends, and answers when the response has ended; never blocks.
    func start(on loop: EventLoop) -> EventLoopFuture<Answer> {
        let promise = loop.makePromise(of: Answer.self)
        let (host, tls) = (url.connectHost, tls)
        // An address is connected to as it is: a host name is resolved off the loop (getaddrinfo on a queue) for
        // each connection, which cost a storm of phones more than the rest of their work.
        let address = try? SocketAddress(ipAddress: host, port: url.port)
        let isAddress = address != nil
        let deadline = loop.scheduleTask(in: timeout) { promise.fail(SimulationTimeout()) }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: url.requestTarget)
        for (name, value) in HTTPExchange.headers(url: url, userAgent: userAgent, authorization: authorization,
                                                  method: method, bodyCount: body.count) {
            head.headers.add(name: name, value: value)
        }
        let (request, body) = (head, body)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: tls, serverHostname: isAddress ? nil : host))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                }
            }
        let connecting = address.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: host, port: url.port)
        connecting.whenComplete { result in
            switch result {
            case .failure(let error):
                promise.fail(error)
            case .success(let channel):
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                channel.write(HTTPClientRequestPart.head(request), promise: nil)
                if !body.isEmpty {
                    channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
                }
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            }
        }
        return promise.futureResult
    }
}

extension HTTPExchange {
    /// The headers a phone sends, in order.
    static func headers(url: ProvisioningURL, userAgent: String, authorization: String?, method: HTTPMethod,
                        bodyCount: Int) -> [(String, String)] {
        var headers = [("Host", url.authority.split(separator: "@").last.map(String.init) ?? url.authority),
                       ("User-Agent", userAgent), ("Connection", "close")]
        if let authorization { headers.append(("Authorization", authorization)) }
        if method != .GET { headers.append(("Content-Length", "\(bodyCount)")) }
        return headers
    }

    /// The whole request as the phone writes it on its own connection.
    static func requestBytes(url: ProvisioningURL, userAgent: String, authorization: String?, method: HTTPMethod,
                             body: [UInt8]) -> [UInt8] {
        var head = "\(method.rawValue) \(url.requestTarget) HTTP/1.1\r\n"
        for (name, value) in headers(url: url, userAgent: userAgent, authorization: authorization, method: method,
                                     bodyCount: body.count) {
            head += "\(name): \(value)\r\n"
        }
        return Array((head + "\r\n").utf8) + body
    }
}

/// Collects one response; the connection closing before its end fails it.
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    let promise: EventLoopPromise<HTTPExchange.Answer>
    var answer: HTTPExchange.Answer?
    var done = false

    init(promise: EventLoopPromise<HTTPExchange.Answer>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            answer = .init(status: Int(head.status.code), body: [], challenge: head.headers.first(name: "WWW-Authenticate"))
        case .body(let buffer):
            answer?.body += buffer.readableBytesView
        case .end:
            guard let answer, !done else { return }
            done = true
            promise.succeed(answer)
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            done = true
            promise.fail(error)
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            promise.fail(ChannelError.eof)
        }
    }
}
