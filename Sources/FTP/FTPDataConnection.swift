import NIOCore

/// One data connection: its channel, and what its ``DataLink`` collects. Plain values, so a connection nobody
/// takes (a late or stray one) is simply closed.
struct DataChannel: Sendable {
    let channel: any Channel
    let link: NIOLoopBound<DataLink>
    /// Completes when the client has ended its side (or the connection is gone).
    let ended: EventLoopFuture<Void>

    /// Sends `buffer` and closes. The write completes once the bytes (encrypted, after the TLS handshake, when
    /// PROT P) are with the kernel, which delivers them before the FIN, as vsftpd relies on too. The close is not
    /// awaited: over TLS it waits for the client's close_notify, which the 226 need not.
    func send(_ buffer: ByteBuffer) async throws {
        try await channel.writeAndFlush(buffer)
        channel.close(promise: nil)
    }

    /// Waits until the client has sent everything; nil when it sent more than the limit.
    func receive() async throws -> ByteBuffer? {
        try await ended.get()
        let link = self.link
        let (contents, overflowed) = try await channel.eventLoop.submit { (link.value.collected, link.value.overflowed) }.get()
        try? await channel.close()
        return overflowed ? nil : contents
    }

    func close() async {
        try? await channel.close()
    }
}

/// Collects what arrives on a data connection, up to a limit, and says when the client has finished.
final class DataLink: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    var collected = ByteBuffer()
    var overflowed = false
    let limit: Int
    let ended: EventLoopPromise<Void>
    private var isEnded = false

    init(limit: Int, ended: EventLoopPromise<Void>) {
        self.limit = limit
        self.ended = ended
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !overflowed else { return }
        guard collected.readableBytes + bytes.readableBytes <= limit else {
            overflowed = true
            context.close(promise: nil)
            return
        }
        collected.writeBuffer(&bytes)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            end()
        } else if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func end() {
        guard !isEnded else { return }
        isEnded = true
        ended.succeed(())
    }
}
