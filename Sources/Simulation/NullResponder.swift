import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A responder that answers at once, for a fleet's ceiling (`simulate --fleet … --against-null`).
public protocol NullService: Sendable {
    /// The URL the fleet's phones are given.
    var url: String { get }
    func close()
}

extension NullResponder {
    /// The responder for the scheme the fleet's phones use: TFTP or HTTP (on Linux on threads of its own), else
    /// HTTP on SwiftNIO.
    public static func responder(for scheme: String) throws -> any NullService {
        #if os(Linux)
        return scheme == "tftp" ? try TFTPNullResponder() : try HTTPNullResponder()
        #else
        return try NullResponder()
        #endif
    }
}

/// A server that answers every HTTP (or, given a TLS configuration, HTTPS) request at once: 404 for a boot file, else the smallest configuration file
/// (`#!version:1.0.0.1`), so that each phone makes the legacy sequence of a storm (two boot files missing, the common
/// and MAC CFG files). It measures the simulator's own ceiling in the same run (`simulate --fleet … --against-null`):
/// a fleet against it is limited by the simulator alone (and by the cores it shares with this responder).
public final class NullResponder: NullService {
    let channel: Channel
    public var port: Int { channel.localAddress?.port ?? 0 }
    let isTLS: Bool
    public var url: String { "\(isTLS ? "https" : "http")://127.0.0.1:\(port)/" }

    /// With `tls`, each connection begins with a full TLS handshake, as a phone's after a power cut does.
    public init(tls: TLSConfiguration? = nil) throws {
        let context = try tls.map(NIOSSLContext.init(configuration:))
        isTLS = context != nil
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Answer())
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    public func close() { try? channel.close().wait() }

    private final class Answer: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        static let body = ByteBuffer(string: "#!version:1.0.0.1\n")

        var boot = false

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let request): boot = request.uri.hasSuffix(".boot")
            case .body: return
            case .end: answer(context)
            }
        }

        private func answer(_ context: ChannelHandlerContext) {
            let body = boot ? ByteBuffer() : Answer.body
            var head = HTTPResponseHead(version: .http1_1, status: boot ? .notFound : .ok)
            head.headers.add(name: "Content-Length", value: "\(body.readableBytes)")
            head.headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
        }
    }
}
