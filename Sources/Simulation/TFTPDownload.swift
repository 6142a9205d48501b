import NIOCore
import NIOPosix
import ProvisioningCore
import TFTP

/// One TFTP read (RFC 1350) as a phone asks it: octet mode with `blksize 1024` and `tsize 0` (RFC 2348, 2349); an OACK
/// is acknowledged with block 0, each block in turn; the last packet sent is sent again after a second of silence,
/// five times at most, before the attempt counts as failed.
struct TFTPDownload {
    let url: ProvisioningURL
    let group: EventLoopGroup
    let timeout: TimeAmount

    static let blockSize = 1024
    static let resends = 5

    func run() -> PhoneClient.Attempt {
        (try? start(on: group.next()).wait()) ?? .failed("no answer")
    }

    /// The transfer, answered when it ends; never blocks (the name is resolved first: an address here).
    func start(on loop: EventLoop) -> EventLoopFuture<PhoneClient.Attempt> {
        let name = ProvisioningURL.percentDecoded(String(url.requestTarget.drop { $0 == "/" }))
        let server: SocketAddress
        do {
            server = try (try? SocketAddress(ipAddress: url.connectHost, port: url.port))
                ?? SocketAddress.makeAddressResolvingHost(url.connectHost, port: url.port)
        } catch {
            return loop.makeSucceededFuture(.failed("cannot resolve \(url.connectHost)"))
        }
        let promise = loop.makePromise(of: PhoneClient.Attempt.self)
        let request = TFTPPacket.readRequest(TFTPRequest(filename: name, mode: "octet", options: [
            TFTPOption(name: "blksize", value: "\(TFTPDownload.blockSize)"), TFTPOption(name: "tsize", value: "0"),
        ]))
        DatagramBootstrap(group: loop).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(TFTPReader(server: server, request: request, promise: promise))
            }
        }
        .bind(host: server.protocol == .inet6 ? "::" : "0.0.0.0", port: 0)
        .whenComplete { result in
            switch result {
            case .failure(let error): promise.succeed(.failed(PhoneClient.describe(error)))
            case .success(let channel): promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            }
        }
        return promise.futureResult
    }
}

/// The phone's side of a read transfer, on the event loop.
private final class TFTPReader: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let server: SocketAddress
    let request: TFTPPacket
    let promise: EventLoopPromise<PhoneClient.Attempt>
    /// The server's transfer port, learned from its first answer (RFC 1350 TIDs).
    var peer: SocketAddress?
    var blockSize = 512
    var expected: UInt16 = 1
    var received: [UInt8] = []
    var lastSent: (ByteBuffer, SocketAddress)?
    var resends = 0
    var silence: Scheduled<Void>?
    var done = false

    init(server: SocketAddress, request: TFTPPacket, promise: EventLoopPromise<PhoneClient.Attempt>) {
        self.server = server
        self.request = request
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        send(request, to: server, context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        if let peer, envelope.remoteAddress != peer { return }
        guard let packet = try? TFTPPacket(parsing: envelope.data) else { return }
        peer = envelope.remoteAddress
        switch packet {
        case .optionAcknowledgement(let options):
            if let size = options.first(where: { $0.0.lowercased() == "blksize" }).flatMap({ Int($0.1) }) { blockSize = size }
            send(.acknowledgement(block: 0), to: envelope.remoteAddress, context: context)
        case .data(let block, let payload):
            if block == expected {
                received += payload.readableBytesView
                send(.acknowledgement(block: block), to: envelope.remoteAddress, context: context)
                expected &+= 1
                if payload.readableBytes < blockSize { finish(.found("ok", received), context: context) }
            } else if block == expected &- 1 {
                // Our acknowledgement was lost: acknowledge again.
                send(.acknowledgement(block: block), to: envelope.remoteAddress, context: context)
            }
        case .error(let error):
            finish(error.code == .fileNotFound ? .notFound("not-found")
                   : .refused("error \(error.code.rawValue): \(error.message)"), context: context)
        default:
            return
        }
    }

    private func send(_ packet: TFTPPacket, to address: SocketAddress, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        packet.write(into: &buffer)
        lastSent = (buffer, address)
        resends = 0
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: address, data: buffer)), promise: nil)
        armSilenceTimer(context: context)
    }

    private func armSilenceTimer(context: ChannelHandlerContext) {
        silence?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        silence = context.eventLoop.scheduleTask(in: .seconds(1)) {
            let (reader, context) = loopBound.value
            reader.silent(context: context)
        }
    }

    private func silent(context: ChannelHandlerContext) {
        guard !done, let (buffer, address) = lastSent else { return }
        guard resends < TFTPDownload.resends else {
            finish(.failed("timeout"), context: context)
            return
        }
        resends += 1
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: address, data: buffer)), promise: nil)
        armSilenceTimer(context: context)
    }

    private func finish(_ attempt: PhoneClient.Attempt, context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        silence?.cancel()
        promise.succeed(attempt)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failed(PhoneClient.describe(error)), context: context)
    }
}
