// The ceiling of an HTTP/1.1 server on SwiftNIO on this machine: it answers every request with the same
// 1.5 KB response and does nothing else (no parsing beyond finding the end of the request head, no files,
// no logging). scripts/bench measures it next to autoprov and nginx, so the gap to nginx can be split into
// what the platform costs and what autoprov's work costs.
//
//   http-ceiling PORT
import NIOCore
import NIOPosix

let body = String(repeating: "x", count: 1500)
let response = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)

final class FixedResponder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    var pending = ByteBuffer()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        pending.writeBuffer(&buffer)
        var answered = false
        while let end = pending.readableBytesView.firstRange(of: [13, 10, 13, 10]) {
            pending.moveReaderIndex(to: end.upperBound)
            context.write(wrapOutboundOut(response), promise: nil)
            answered = true
        }
        pending.discardReadBytes()
        if answered { context.flush() }
    }
}

let port = Int(CommandLine.arguments.dropFirst().first ?? "18099") ?? 18099
let server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(FixedResponder()) }
    }
    .bind(host: "127.0.0.1", port: port).wait()
try server.closeFuture.wait()
