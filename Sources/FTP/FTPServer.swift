import FileService
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization
import WireProtocols

/// Who logged in on a control connection.
public struct FTPLogin: Sendable, Equatable {
    public var username: String
    public var password: String
    public var isAnonymous: Bool

    public init(username: String, password: String, isAnonymous: Bool) {
        self.username = username
        self.password = password
        self.isAnonymous = isAnonymous
    }
}

/// Why a file operation failed, and the reply it gets.
public enum FTPFailure: Error, Sendable, Equatable {
    /// 550: no such file or directory.
    case notFound(String)
    /// 550: not allowed (outside the root, hidden, protected, upload name not allowed).
    case denied(String)
    /// 552: over the upload limit.
    case tooLarge(Int)
    /// 451: the server could not do it.
    case failed(String)
}

/// What the FTP front-end asks of the rest of the server; ``FTPServer`` knows only the protocol.
public protocol FTPFileProvider: Sendable {
    /// Checks a login on the calling thread: the login (with whether it is anonymous), or how long to wait before
    /// saying no.
    func login(username: String, password: String, client: String) -> Result<FTPLogin, FTPLoginRefusal>
    /// Decides a read on the calling thread: the file or the refusal, or a large file to load off it first.
    func read(path: String, login: FTPLogin, client: String) -> FTPRead
    /// Whether an upload of `path` is allowed, and its size limit.
    func uploadLimit(path: String, login: FTPLogin, client: String) -> Result<Int, FTPFailure>
    func write(path: String, contents: ByteBuffer, login: FTPLogin, client: String) async -> FTPFailure?
    /// A directory's entries, read on the calling thread (a driver on a shared event loop runs it off the loop).
    func list(path: String, login: FTPLogin, client: String) -> Result<[FTPEntry], FTPFailure>
    /// What `stat` says of a file or directory.
    func entry(path: String, login: FTPLogin, client: String) -> Result<FTPEntry, FTPFailure>
    /// Told of every transfer (RETR, STOR, LIST…) when it ends, for the request log.
    func finished(path: String, login: FTPLogin?, client: String, result: RequestResult, bytes: Int, seconds: Double)
    /// Told of a session closed because it did not log in within ``FTPServerConfiguration/loginTimeout``.
    func loginTimedOut(client: String)
}

/// What a read comes to on the calling thread (``FTPFileProvider/read(path:login:client:)``).
public enum FTPRead: Sendable {
    case answered(Result<ByteBuffer, FTPFailure>)
    /// A file to load off the caller's thread first (firmware).
    case load(@Sendable () async -> Result<ByteBuffer, FTPFailure>)
}

/// A refused login: wait this long, then 530.
public struct FTPLoginRefusal: Error, Sendable {
    public var delay: Duration

    public init(delay: Duration) {
        self.delay = delay
    }
}

public struct FTPServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Ports for passive data connections.
    public var passivePorts: ClosedRange<Int>
    /// The address told to clients in PASV replies (a NAT's public address); empty: the control connection's.
    public var passiveAddress: String
    /// TLS for AUTH TLS (RFC 4217); nil: FTPS is not offered.
    public var tls: NIOSSLContext?
    public var maximumSessions = 1000
    public var idleTimeout: TimeAmount = .seconds(300)
    /// A session that has not logged in this long after it opened is told 421 and closed: one that only holds its
    /// place (or starts TLS and never finishes the handshake) cannot keep it.
    public var loginTimeout: Duration = .seconds(60)
    public var maximumLineLength = 4096
    /// The most a data connection collects (the largest upload; ``FTPFileProvider/uploadLimit`` may say less).
    public var maximumUploadBytes = 1_048_576
    /// Where uploads being received are held, with every other protocol's (`[limits] upload_mb`; S6).
    public var uploadBudget: UploadBudget?
    /// How long a passive listener waits for the client's data connection.
    public var dataConnectTimeout: Duration = .seconds(15)

    public init(host: String, port: Int, passivePorts: ClosedRange<Int>, passiveAddress: String, tls: NIOSSLContext?) {
        self.host = host
        self.port = port
        self.passivePorts = passivePorts
        self.passiveAddress = passiveAddress
        self.tls = tls
    }
}

/// An FTP and explicit FTPS server (RFC 959, 2389, 2428, 3659, 4217) over an ``FTPFileProvider``: each control
/// connection is one task reading commands in order; data connections are passive (PASV, EPSV) or active (PORT,
/// EPRT, only to the client's own address).
public final class FTPServer: Service, Sendable {
    public let configuration: FTPServerConfiguration
    let provider: any FTPFileProvider
    let logger: Logger
    let onBound: @Sendable (SocketAddress) -> Void
    let sessions = Atomic<Int>(0)
    /// Where the next passive listener starts looking in the port range.
    let nextPassivePort = Atomic<Int>(0)

    public init(configuration: FTPServerConfiguration, provider: any FTPFileProvider, logger: Logger,
                onBound: @escaping @Sendable (SocketAddress) -> Void) {
        self.configuration = configuration
        self.provider = provider
        self.logger = logger
        self.onBound = onBound
    }

    public func run() async throws {
        let idle = configuration.idleTimeout
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idle))
                    try channel.pipeline.syncOperations.addHandler(CloseWhenIdle())
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        onBound(server.channel.localAddress!)
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    /// Counts a new session against ``FTPServerConfiguration/maximumSessions``; false (and not counted) when the
    /// limit is reached. Each counted session ends with one ``releaseSession()``.
    public func reserveSession() -> Bool {
        guard sessions.wrappingAdd(1, ordering: .relaxed).newValue <= configuration.maximumSessions else {
            sessions.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    public func releaseSession() {
        sessions.wrappingSubtract(1, ordering: .relaxed)
    }

    /// The reply for a session over the limit.
    public static let tooManySessions = FTPReply(421, "Too many sessions, try later")

    /// The port a new passive listener tries first: round robin over the range, so a port (and with it a client's
    /// address pair, which the kernel keeps in TIME_WAIT for a minute after a transfer) comes back as late as possible.
    public func passivePortsInTurn() -> some Sequence<Int> {
        let (lower, count) = (configuration.passivePorts.lowerBound, configuration.passivePorts.count)
        let start = nextPassivePort.wrappingAdd(1, ordering: .relaxed).oldValue % count
        return (0..<count).lazy.map { lower + (start + $0) % count }
    }

    /// Takes over a session another driver started (counted with ``reserveSession()``, already greeted): its
    /// connected socket, its state, and the bytes read but not answered, the next command first. The login
    /// deadline still counts from `opened`; `ended` runs once when the session is over (the other driver's own
    /// count, such as the sessions per address, is released there).
    public func adopt(descriptor: Int32, state: FTPSessionState, replaying bytes: [UInt8],
                      opened: ContinuousClock.Instant, ended: @escaping @Sendable () -> Void) {
        let idle = configuration.idleTimeout
        Task {
            defer {
                releaseSession()
                ended()
            }
            do {
                let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                    .withConnectedSocket(descriptor) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idle))
                            try channel.pipeline.syncOperations.addHandler(CloseWhenIdle())
                            return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                        }
                    }
                try await connection.executeThenClose { inbound, _ in
                    try await FTPSession(server: self, channel: connection.channel, state: state, opened: opened)
                        .run(inbound, replaying: bytes)
                }
            } catch {
                logger.debug("ftp session ended", metadata: ["ftp.error": "\(error)"])
            }
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let admitted = reserveSession()
        defer { if admitted { releaseSession() } }
        do {
            try await connection.executeThenClose { inbound, outbound in
                guard admitted else {
                    try await outbound.write(ByteBuffer(string: FTPServer.tooManySessions.wire))
                    return
                }
                let session = FTPSession(server: self, channel: connection.channel, opened: .now)
                try await session.run(inbound)
            }
        } catch {
            logger.debug("ftp session ended", metadata: ["ftp.error": "\(error)"])
        }
    }
}

/// Closes a control connection that has been quiet for the idle timeout.
final class CloseWhenIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
