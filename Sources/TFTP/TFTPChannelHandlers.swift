import FileService
import NIOCore
import ProvisioningCore
import WireProtocols

/// Receives requests on the listening port.
final class TFTPRequestHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let server: TFTPServer

    init(server: TFTPServer) {
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        do {
            let packet = try TFTPPacket(parsing: envelope.data)
            switch packet {
            case .readRequest, .writeRequest:
                server.handle(packet, from: envelope.remoteAddress)
            default:
                reply(context, to: envelope.remoteAddress, TFTPError(code: .illegalOperation, message: "expected RRQ or WRQ"))
            }
        } catch {
            server.logger.debug("TFTP malformed request", metadata: ["tftp.client": "\(envelope.remoteAddress)"])
            reply(context, to: envelope.remoteAddress, TFTPError(code: .illegalOperation, message: "malformed request"))
        }
    }

    private func reply(_ context: ChannelHandlerContext, to address: SocketAddress, _ error: TFTPError) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        TFTPPacket.error(error).write(into: &buffer)
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: address, data: buffer)), promise: nil)
    }
}

/// Runs one transfer's state machine on its own channel (its TID).
final class TFTPTransferHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    struct Start {}

    enum State {
        case read(TFTPReadTransfer)
        case write(TFTPWriteTransfer, netascii: Bool)
        case storing
        case finished
    }

    var state: State
    let client: SocketAddress
    let server: TFTPServer
    let request: TFTPRequest
    let started: ContinuousClock.Instant
    let isWrite: Bool
    /// The retransmission timer: scheduled once and moved lazily. Each block pushes ``timerDeadline`` forward; the
    /// timer, when it fires early, schedules itself again for the rest, instead of a cancel and a new schedule per
    /// block.
    var timer: Scheduled<Void>?
    var timerDeadline = NIODeadline.distantFuture

    init(state: State, client: SocketAddress, server: TFTPServer, request: TFTPRequest, started: ContinuousClock.Instant) {
        if case .read = state { isWrite = false } else { isWrite = true }
        self.state = state
        self.client = client
        self.server = server
        self.request = request
        self.started = started
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is Start else { return context.fireUserInboundEventTriggered(event) }
        switch state {
        case .read(var transfer):
            let actions = transfer.start()
            state = .read(transfer)
            perform(actions, context: context)
        case .write(let transfer, _):
            perform(transfer.start(), context: context)
        default:
            break
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == client else {
            send([.error(TFTPError(code: .unknownTransferID, message: "unknown transfer ID"))], to: envelope.remoteAddress,
                 context: context)
            return
        }
        guard let packet = try? TFTPPacket(parsing: envelope.data) else {
            perform([.send([.error(TFTPError(code: .illegalOperation, message: "malformed packet"))]),
                     .finish(.failed("malformed packet", bytes: 0))], context: context)
            return
        }
        switch state {
        case .read(var transfer):
            let actions = transfer.receive(packet)
            state = .read(transfer)
            perform(actions, context: context)
        case .write(var transfer, let netascii):
            // Taken out of `state` before it changes: while `state` still held it, adding a block copied the whole
            // upload received so far (copy on write), which made an upload quadratic in its size.
            state = .storing
            let progress = transfer.receive(packet)
            switch progress {
            case .actions(let actions):
                state = .write(transfer, netascii: netascii)
                perform(actions, context: context)
            case .complete(let contents):
                state = .storing
                stopTimer()
                store(netascii ? Netascii.decode(contents) : contents, final: transfer.finalAcknowledgement,
                      reservation: transfer.reservation, context: context)
            }
        case .storing, .finished:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopTimer()
        if case .finished = state { return }
        // Closed by shutdown before the transfer ended.
        report(.failed("server shutting down", bytes: 0))
        state = .finished
    }

    /// Stores a whole upload; its share of the upload budget is given back once it is stored, and its bytes are
    /// not held past that. The file service writes these very bytes (no copy is made on the way), so an upload is in
    /// memory once.
    private func store(_ contents: ByteBuffer, final: TFTPPacket, reservation: UploadReservation?,
                       context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let server = self.server
        let request = self.request
        let client = self.client
        let bytes = contents.readableBytes
        Task {
            let error = await server.provider.write(path: request.filename, contents: contents, client: client)
            reservation?.release()
            loopBound.eventLoop.execute {
                let (handler, context) = loopBound.value
                if let error {
                    handler.perform([.send([.error(error)]), .finish(.failed(error.message, bytes: bytes))],
                                    context: context)
                } else {
                    handler.perform([.send([final]), .finish(.completed(bytes: bytes))], context: context)
                }
            }
        }
    }

    private func perform(_ actions: [TFTPAction], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .send(let packets):
                send(packets, to: client, context: context)
            case .armTimer(let seconds):
                timerDeadline = .now() + .seconds(Int64(seconds))
                if timer == nil { scheduleTimer(context: context) }
            case .finish(let result):
                stopTimer()
                if case .finished = state { return }
                state = .finished
                report(result)
                context.close(promise: nil)
            case .none:
                break
            }
        }
    }

    private func stopTimer() {
        timer?.cancel()
        timer = nil
        timerDeadline = .distantFuture
    }

    private func scheduleTimer(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: timerDeadline) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            // Pushed forward since it was scheduled: wait for the rest.
            if NIODeadline.now() < handler.timerDeadline {
                handler.scheduleTimer(context: context)
            } else {
                handler.timedOut(context: context)
            }
        }
    }

    private func timedOut(context: ChannelHandlerContext) {
        server.timeouts.add(1, ordering: .relaxed)
        switch state {
        case .read(var transfer):
            let actions = transfer.timeout()
            state = .read(transfer)
            perform(actions, context: context)
        case .write(var transfer, let netascii):
            state = .storing  // taken out before it changes, as in channelRead
            let actions = transfer.timeout()
            state = .write(transfer, netascii: netascii)
            perform(actions, context: context)
        default:
            break
        }
    }

    private func send(_ packets: [TFTPPacket], to address: SocketAddress, context: ChannelHandlerContext) {
        guard !packets.isEmpty else { return }
        for packet in packets {
            var buffer = context.channel.allocator.buffer(capacity: 4 + 512)
            packet.write(into: &buffer)
            context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: address, data: buffer)), promise: nil)
        }
        context.flush()
    }

    private func report(_ result: TFTPTransferResult) {
        let summary = TFTPTransferSummary(
            path: request.filename, isWrite: isWrite,
            client: client, result: result, seconds: (ContinuousClock.now - started).seconds, refusal: nil)
        server.provider.finished(summary)
    }
}
