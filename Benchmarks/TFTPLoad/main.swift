// A TFTP boot-storm load generator: N phones, C at a time, each downloading one file with 512-byte blocks.
//
//   tftp-load --port P --files LIST [--concurrency 200] [--limit 2000]
//   tftp-load --serve-null PORT   (a responder with no logic, in its own process: measures the client's ceiling)
//
// Prints one JSON line: transfers, failed, seconds, rate (transfers per second), bytes.
import Foundation
import NIOCore
import NIOPosix
import Synchronization

struct Options {
    var host = "127.0.0.1"
    var port = 69
    var files: [String] = []
    var concurrency = 200
    var limit = 2000
    var nullPort: Int?
    var threads = 1

    init(_ arguments: [String]) throws {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--host": host = iterator.next()!
            case "--port": port = Int(iterator.next()!)!
            case "--files":
                let list = try String(contentsOfFile: iterator.next()!, encoding: .utf8)
                files = list.split(separator: "\n").map(String.init)
            case "--concurrency": concurrency = Int(iterator.next()!)!
            case "--limit": limit = Int(iterator.next()!)!
            case "--threads": threads = Int(iterator.next()!)!
            case "--serve-null": nullPort = Int(iterator.next()!)!
            default: throw NSError(domain: "tftp-load: unknown argument \(argument)", code: 2)
            }
        }
    }
}

/// Downloads one file; completes its promise with the byte count, or fails.
final class Download: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let server: SocketAddress
    let filename: String
    let promise: EventLoopPromise<Int>
    var peer: SocketAddress?
    var expected: UInt16 = 1
    var bytes = 0
    var timer: Scheduled<Void>?
    var retries = 0
    var lastSent: ByteBuffer?

    init(server: SocketAddress, filename: String, promise: EventLoopPromise<Int>) {
        self.server = server
        self.filename = filename
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        var request = context.channel.allocator.buffer(capacity: filename.utf8.count + 10)
        request.writeInteger(UInt16(1))
        request.writeString(filename)
        request.writeInteger(UInt8(0))
        request.writeString("octet")
        request.writeInteger(UInt8(0))
        send(request, to: server, context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        var packet = envelope.data
        guard let opcode = packet.readInteger(as: UInt16.self), let block = packet.readInteger(as: UInt16.self) else { return }
        if opcode == 5 { return finish(context, error: "error \(block)") }
        guard opcode == 3 else { return }
        peer = envelope.remoteAddress
        var ack = context.channel.allocator.buffer(capacity: 4)
        ack.writeInteger(UInt16(4))
        ack.writeInteger(block)
        if block == expected {
            bytes += packet.readableBytes
            expected &+= 1
            retries = 0
            if packet.readableBytes < 512 {
                context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ack)),
                                      promise: nil)
                return finish(context, error: nil)
            }
        }
        send(ack, to: envelope.remoteAddress, context: context)
    }

    func send(_ buffer: ByteBuffer, to address: SocketAddress, context: ChannelHandlerContext) {
        lastSent = buffer
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: address, data: buffer)), promise: nil)
        timer?.cancel()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: .seconds(2)) {
            let (handler, context) = bound.value
            handler.retries += 1
            guard handler.retries <= 5, let last = handler.lastSent else { return handler.finish(context, error: "timeout") }
            handler.send(last, to: handler.peer ?? handler.server, context: context)
        }
    }

    func finish(_ context: ChannelHandlerContext, error: String?) {
        timer?.cancel()
        if let error { promise.fail(NSError(domain: error, code: 1)) } else { promise.succeed(bytes) }
        context.close(promise: nil)
    }
}

/// A responder with no logic at all (fixed 1.5 KB payload), to measure the generator's own ceiling.
final class NullResponder: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let group: any EventLoopGroup

    init(group: any EventLoopGroup) { self.group = group }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let client = unwrapInboundIn(data).remoteAddress
        _ = DatagramBootstrap(group: context.eventLoop).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(NullTransfer(client: client)) }
        }.bind(host: "127.0.0.1", port: 0).map { channel in
            channel.pipeline.fireUserInboundEventTriggered("start")
        }
    }
}

final class NullTransfer: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let client: SocketAddress
    let payload = [UInt8](repeating: 0x61, count: 1500)
    var block: UInt16 = 1

    init(client: SocketAddress) { self.client = client }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) { sendBlock(context) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var packet = unwrapInboundIn(data).data
        guard packet.readInteger(as: UInt16.self) == 4, packet.readInteger(as: UInt16.self) == block else { return }
        if Int(block) * 512 > payload.count { return context.close(promise: nil) }
        block += 1
        sendBlock(context)
    }

    func sendBlock(_ context: ChannelHandlerContext) {
        let start = (Int(block) - 1) * 512
        let chunk = payload[start..<min(start + 512, payload.count)]
        var buffer = context.channel.allocator.buffer(capacity: 516)
        buffer.writeInteger(UInt16(3))
        buffer.writeInteger(block)
        buffer.writeBytes(chunk)
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: client, data: buffer)), promise: nil)
    }
}

let options = try Options(CommandLine.arguments)
// The null responder uses every core, so that what it measures is the client's ceiling, not its own.
let group = MultiThreadedEventLoopGroup(numberOfThreads: options.nullPort == nil ? options.threads : System.coreCount)
if let nullPort = options.nullPort {
    let responder = try DatagramBootstrap(group: group).channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(NullResponder(group: group)) }
    }.bind(host: "127.0.0.1", port: nullPort).wait()
    try responder.closeFuture.wait()
    exit(0)
}
let files = options.files
precondition(!files.isEmpty, "tftp-load: --files LIST or --serve-null PORT")
let server = try SocketAddress(ipAddress: options.host, port: options.port)

let state = Mutex<(next: Int, done: Int, failed: Int, bytes: Int)>((0, 0, 0, 0))
let finished = group.next().makePromise(of: Void.self)
let started = Date()

@Sendable func startNext() {
    let index = state.withLock { value -> Int? in
        guard value.next < options.limit else { return nil }
        value.next += 1
        return value.next - 1
    }
    guard let index else { return }
    let loop = group.next()
    let promise = loop.makePromise(of: Int.self)
    let filename = files[index % files.count]
    DatagramBootstrap(group: loop).channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(Download(server: server, filename: filename, promise: promise))
        }
    }.bind(host: "127.0.0.1", port: 0).whenFailure { promise.fail($0) }
    promise.futureResult.whenComplete { result in
        let all = state.withLock { value -> Bool in
            value.done += 1
            switch result {
            case .success(let bytes): value.bytes += bytes
            case .failure: value.failed += 1
            }
            return value.done == options.limit
        }
        if all { finished.succeed() } else { startNext() }
    }
}

for _ in 0..<min(options.concurrency, options.limit) { startNext() }
try finished.futureResult.wait()
let seconds = Date().timeIntervalSince(started)
let result = state.withLock { $0 }
print("{\"transfers\":\(options.limit),\"failed\":\(result.failed),\"seconds\":\(String(format: "%.3f", seconds)),"
      + "\"rate\":\(String(format: "%.1f", Double(options.limit) / seconds)),\"bytes\":\(result.bytes)}")
