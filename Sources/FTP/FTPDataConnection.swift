import FileService
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

    /// What an upload's data connection brought.
    enum Received {
        /// The whole upload, and its share of the server's upload budget (given back once it is stored).
        case whole(ByteBuffer, UploadReservation?)
        /// More than the data connection takes (the server's limit).
        case tooLarge
        /// More than the server's upload budget had room for.
        case budgetFull
    }

    /// Waits until the client has sent everything.
    func receive() async throws -> Received {
        try await ended.get()
        let link = self.link
        let (contents, refused, reservation) = try await channel.eventLoop.submit {
            (link.value.collected, link.value.refused, link.value.reservation)
        }.get()
        try? await channel.close()
        return refused ?? .whole(contents, reservation)
    }

    func close() async {
        try? await channel.close()
    }
}

/// Collects what arrives on a data connection, up to a limit, and says when the client has finished.
final class DataLink: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    var collected = ByteBuffer()
    /// Why collecting stopped before the client ended (`.tooLarge` or `.budgetFull`); nil while it goes on.
    var refused: DataChannel.Received?
    let limit: Int
    /// What is collected is held here, in the server's upload budget.
    let reservation: UploadReservation?
    let ended: EventLoopPromise<Void>
    private var isEnded = false

    init(limit: Int, reservation: UploadReservation?, ended: EventLoopPromise<Void>) {
        self.limit = limit
        self.reservation = reservation
        self.ended = ended
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard refused == nil else { return }
        let total = collected.readableBytes + bytes.readableBytes
        if total > limit {
            refused = .tooLarge
            return context.close(promise: nil)
        }
        if reservation?.hold(total) == false {
            // Read to its end and dropped, so that a client still sending sees the refusal, not a reset.
            refused = .budgetFull
            collected = ByteBuffer()
            reservation?.release()
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
