import FileService
import NIOCore
import NIOSSL
import X509

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

extension ChannelHandlerContext {
    func writeAndFlushPromise(_ data: NIOAny) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        writeAndFlush(data, promise: promise)
        return promise.futureResult
    }
}

/// What the HTTP and HTTPS listeners hold each client to (S6), shared by the epoll and SwiftNIO paths.
public struct HTTPLimits: Sendable {
    /// Connections open at once per client address.
    public let connections: ConnectionLimits
    /// How long a request head has to arrive whole.
    public let headTimeout: Duration
    /// The longest request head, in bytes (431 past it).
    public let headBytes: Int

    public init(connections: ConnectionLimits, headTimeout: Duration, headBytes: Int) {
        self.connections = connections
        self.headTimeout = headTimeout
        self.headBytes = headBytes
    }
}
