import FileService
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
    let limits: HTTPLimits
    let logger: Logger
    let onBound: @Sendable (SocketAddress) -> Void
    let connections = Mutex<[ObjectIdentifier: any Channel]>([:])
    /// How long shutdown waits for requests in flight.
    let drainSeconds: Int64 = 10

    /// The hook to give the file service when HTTP or HTTPS is on: each file's response head is made once, when the
    /// file is loaded (``FilePreparer``).
    public static let filePreparer: FilePreparer = HTTPFileHead.prepare

    public init(name: String, host: String, port: Int, tls: NIOSSLContext?, service: FileService,
                limits: HTTPLimits, logger: Logger,
                onBound: @escaping @Sendable (SocketAddress) -> Void) {
        self.name = name
        self.host = host
        self.port = port
        self.tls = tls
        self.service = service
        self.limits = limits
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
                                        limits: limits,
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
        guard bytes != nil || limits.connections.admit(client) else {
            channel.close(promise: nil)
            return
        }
        try pipeline.addHandler(HTTPRequestDeadline(headTimeout: TimeAmount(limits.headTimeout),
                                                    metrics: service.metrics, limits: limits.connections,
                                                    client: client))
        if let bytes {
            try pipeline.addHandler(ReplayHandler(bytes: bytes))
            try addFullPath(pipeline, after: nil)
        } else {
            if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
            try pipeline.addHandler(HTTPQuickHandler(service: service, isTLS: tls != nil,
                                                     headLimit: limits.headBytes) { pipeline, quick in
                try self.addFullPath(pipeline, after: quick)
            })
        }
        let id = ObjectIdentifier(channel)
        connections.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in _ = self.connections.withLock { $0.removeValue(forKey: id) } }
    }

    /// The request decoder and the file handler: the handler keeps pipelined requests in order, answers malformed
    /// ones with 400 and long heads with 431, and writes response heads itself (a cached file's head is serialized
    /// once).
    private func addFullPath(_ pipeline: ChannelPipeline.SynchronousOperations, after quick: HTTPQuickHandler?) throws {
        // The request target and the header fields, names and values, count against `[limits] head_bytes`, each
        // message anew, as the parser reads them: a head that never ends is refused once it passes the limit.
        var headLimits = NIOHTTPDecoderLimitConfiguration()
        headLimits.maxHeaderListSize = limits.headBytes
        headLimits.maxHeaderFieldSize = limits.headBytes
        let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes,
                                                              limitConfiguration: headLimits))
        let handler = HTTPFileHandler(service: service, isTLS: tls != nil)
        if let quick {
            try pipeline.addHandler(decoder, position: .after(quick))
        } else {
            try pipeline.addHandler(decoder)
        }
        try pipeline.addHandler(handler, position: .after(decoder))
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
