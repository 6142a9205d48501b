#if os(Linux)
import CLinuxShims
import FastLoop
import Glibc
import Logging
import NIOCore
import WireProtocols

/// TFTP read requests answered on one epoll loop per core, below SwiftNIO's channels.
///
/// Why it exists: through SwiftNIO every transfer cost a datagram channel (its pipeline, its registration, a future
/// per bind) and a task to ask the file service, about 135 µs of server time for a one-block file; a boot storm is
/// tens of thousands of such transfers. Here a transfer is a plain UDP socket on the listener's address (its transfer
/// ID, RFC 1350 §4), driven by the same ``TFTPReadTransfer`` state machine.
///
/// Each loop receives requests on its own socket on the shared address (`SO_REUSEPORT`: a client's retransmitted
/// request reaches the same loop). A read in octet mode of a file the file service answers at once is served here;
/// every other request (uploads, netascii, a large file to load first) goes to ``TFTPServer/answer(_:key:)`` on
/// SwiftNIO. Admission (duplicates and limits), the request log and the counters are the server's, for both paths.
final class TFTPFastPath: Sendable {
    private let loops: FastLoopGroup

    var address: SocketAddress { loops.address }

    /// Binds the sockets (so that a failure, such as a port in use, is reported before anything runs).
    init(host: String, port: Int, threads: Int) throws {
        loops = try FastLoopGroup(host: host, port: port, threads: threads, datagram: true)
    }

    func start(server: TFTPServer) {
        loops.start(threadName: "autoprov-tftp") { listenSocket, control in
            TFTPFastLoop(listenSocket: listenSocket, control: control, server: server).run()
        }
    }

    /// Runs until shutdown, letting transfers finish for at most `drainSeconds` (see ``FastLoopGroup``).
    func runUntilShutdown(drainSeconds: Int64) async {
        await loops.runUntilShutdown(drainSeconds: drainSeconds)
    }
}

/// One loop's transfers, by descriptor.
private final class TFTPFastLoop {
    struct Transfer {
        var machine: TFTPReadTransfer
        let key: TFTPAdmissions.Key
        let client: sockaddr_storage
        let clientLength: socklen_t
        let started: ContinuousClock.Instant
        /// When the state machine's timer fires, unless a packet comes first.
        var deadline: ContinuousClock.Instant
    }

    let loop: EpollLoop
    let server: TFTPServer
    /// The listener's address with port 0, where each transfer's socket is bound.
    var transferAddress = sockaddr_storage()
    var transferAddressLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
    var transfers: [Int32: Transfer] = [:]
    /// Where each datagram is received (the largest a UDP payload can be) and each packet written.
    var input = ByteBufferAllocator().buffer(capacity: 65_536)
    var output = ByteBufferAllocator().buffer(capacity: 65_536)

    /// Requests taken from the listening socket per wakeup.
    static let requestsPerWakeup = 64

    init(listenSocket: Int32, control: LoopControl, server: TFTPServer) {
        loop = EpollLoop(listenSocket: listenSocket, control: control, logger: server.logger, name: "tftp.fastpath")
        self.server = server
        _ = withUnsafeMutablePointer(to: &transferAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenSocket, $0, &transferAddressLength) }
        }
        FastLoopGroup.setPort(&transferAddress, 0)
    }

    func run() {
        // Timers are checked ten times a second: a retransmission goes out within 100 ms of its second.
        loop.run(yieldingAfterEachBatch: false, sweepingEvery: .milliseconds(100), acceptingLast: true, EpollLoop.Handlers(
            accept: { [self] in requests() },
            ready: { [self] descriptor, _ in readable(descriptor) },
            stopping: {},
            finished: { [self] in transfers.isEmpty },
            closeAll: { [self] in
                for descriptor in Array(transfers.keys) { finish(descriptor, .failed("server shutting down", bytes: 0)) }
            },
            sweep: { [self] now in sweep(now) }))
    }

    // MARK: Requests

    private func requests() {
        for _ in 0..<TFTPFastLoop.requestsPerWakeup {
            var source = sockaddr_storage()
            var sourceLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            guard receive(loop.listenSocket, from: &source, &sourceLength) else { return }
            guard let client = TFTPFastLoop.socketAddress(source) else { continue }
            let packet: TFTPPacket
            do {
                packet = try TFTPPacket(parsing: input)
            } catch {
                server.logger.debug("TFTP malformed request", metadata: ["tftp.client": "\(client)"])
                send(.error(TFTPError(code: .illegalOperation, message: "malformed request")), on: loop.listenSocket,
                     to: source, sourceLength)
                continue
            }
            switch packet {
            case .readRequest(let request) where request.mode == "octet":
                read(request, from: client, source, sourceLength)
            case .readRequest, .writeRequest:
                server.handle(packet, from: client)
            default:
                send(.error(TFTPError(code: .illegalOperation, message: "expected RRQ or WRQ")), on: loop.listenSocket,
                     to: source, sourceLength)
            }
        }
    }

    private func read(_ request: TFTPRequest, from client: SocketAddress, _ address: sockaddr_storage, _ length: socklen_t) {
        let key = TFTPAdmissions.Key(client: client, isWrite: false, filename: request.filename)
        guard server.admit(key) else { return }
        let started = ContinuousClock.now
        guard let contents = server.provider.readNow(path: request.filename, client: client) else {
            server.answer(request, key: key)  // a file to load first, off this thread
            return
        }
        let machine: TFTPReadTransfer
        do {
            let payload = try contents.get()
            let negotiation = try TFTPNegotiation(options: request.options, transferSize: payload.readableBytes,
                                                  limits: server.configuration.limits)
            machine = TFTPReadTransfer(payload: payload, negotiation: negotiation,
                                       maximumRetries: server.configuration.maximumRetries)
        } catch {
            refuse(error, key: key, address, length, started: started)
            return
        }
        guard let descriptor = transferSocket() else {
            // Out of descriptors: dropped as over a limit; the client asks again.
            server.requestsDropped.add(1, ordering: .relaxed)
            server.release(key)
            return
        }
        loop.watch(descriptor, EPOLLIN.rawValue, operation: EPOLL_CTL_ADD)
        transfers[descriptor] = Transfer(machine: machine, key: key, client: address, clientLength: length,
                                         started: started, deadline: .now)
        server.fastTransfers.add(1, ordering: .relaxed)
        guard let actions = transfers[descriptor]?.machine.start() else { return }
        perform(actions, on: descriptor)
    }

    /// The request's error, sent from a port of its own (as a transfer's first packet would be), and recorded.
    private func refuse(_ error: TFTPError, key: TFTPAdmissions.Key, _ address: sockaddr_storage, _ length: socklen_t,
                        started: ContinuousClock.Instant) {
        if let descriptor = transferSocket() {
            send(.error(error), on: descriptor, to: address, length)
            close(descriptor)
        }
        server.release(key)
        server.provider.finished(TFTPTransferSummary(
            path: key.filename, isWrite: false, client: key.client, result: .failed(error.message, bytes: 0),
            seconds: (ContinuousClock.now - started).seconds, refusal: error))
    }

    /// A non-blocking UDP socket on the listener's address and a new port; nil when none can be had.
    private func transferSocket() -> Int32? {
        let descriptor = socket(Int32(transferAddress.ss_family),
                                Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        let bound = withUnsafePointer(to: &transferAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, transferAddressLength) }
        }
        guard bound == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    // MARK: Transfers

    private func readable(_ descriptor: Int32) {
        // A client has at most a window's ACKs in flight; a few per wakeup keeps one transfer from holding the loop.
        for _ in 0..<8 {
            guard let transfer = transfers[descriptor] else { return }
            var source = sockaddr_storage()
            var sourceLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            guard receive(descriptor, from: &source, &sourceLength) else { return }
            guard TFTPFastLoop.same(source, transfer.client) else {
                // RFC 1350 §4: a packet from another port is answered with error 5 and changes nothing.
                send(.error(TFTPError(code: .unknownTransferID, message: "unknown transfer ID")), on: descriptor,
                     to: source, sourceLength)
                continue
            }
            guard let packet = try? TFTPPacket(parsing: input) else {
                perform([.send([.error(TFTPError(code: .illegalOperation, message: "malformed packet"))]),
                         .finish(.failed("malformed packet", bytes: 0))], on: descriptor)
                return
            }
            guard let actions = transfers[descriptor]?.machine.receive(packet) else { return }
            perform(actions, on: descriptor)
        }
    }

    private func sweep(_ now: ContinuousClock.Instant) {
        let due = transfers.compactMap { $0.value.deadline <= now ? $0.key : nil }
        for descriptor in due {
            server.timeouts.add(1, ordering: .relaxed)
            guard let actions = transfers[descriptor]?.machine.timeout() else { continue }
            perform(actions, on: descriptor)
        }
    }

    private func perform(_ actions: [TFTPAction], on descriptor: Int32) {
        for action in actions {
            guard let transfer = transfers[descriptor] else { return }
            switch action {
            case .send(let packets):
                for packet in packets { send(packet, on: descriptor, to: transfer.client, transfer.clientLength) }
            case .armTimer(let seconds):
                transfers[descriptor]?.deadline = .now + .seconds(seconds)
            case .finish(let result):
                finish(descriptor, result)
            case .none:
                break
            }
        }
    }

    private func finish(_ descriptor: Int32, _ result: TFTPTransferResult) {
        guard let transfer = transfers.removeValue(forKey: descriptor) else { return }
        close(descriptor)
        server.fastTransfers.subtract(1, ordering: .relaxed)
        server.release(transfer.key)
        server.provider.finished(TFTPTransferSummary(
            path: transfer.key.filename, isWrite: false, client: transfer.key.client, result: result,
            seconds: (ContinuousClock.now - transfer.started).seconds, refusal: nil))
    }

    // MARK: Datagrams

    /// Receives one datagram into ``input``; false when none is waiting.
    private func receive(_ descriptor: Int32, from source: inout sockaddr_storage, _ length: inout socklen_t) -> Bool {
        var received = -1
        input.clear()
        input.writeWithUnsafeMutableBytes(minimumWritableBytes: 65_536) { buffer in
            received = withUnsafeMutablePointer(to: &source) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(descriptor, buffer.baseAddress, buffer.count, 0, $0, &length)
                }
            }
            return max(received, 0)
        }
        // An error (an ICMP error reported on the socket, say) is taken as nothing more to read now.
        return received >= 0
    }

    /// A datagram the kernel cannot take (its buffer full) counts as sent and lost: the timer resends it.
    private func send(_ packet: TFTPPacket, on descriptor: Int32, to address: sockaddr_storage, _ length: socklen_t) {
        output.clear()
        packet.write(into: &output)
        var address = address
        _ = output.withUnsafeReadableBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0, length)
                }
            }
        }
    }

    /// Whether two addresses are one host and port (the transfer ID).
    static func same(_ a: sockaddr_storage, _ b: sockaddr_storage) -> Bool {
        guard a.ss_family == b.ss_family else { return false }
        let family = Int32(a.ss_family)
        return withUnsafeBytes(of: a) { first in
            withUnsafeBytes(of: b) { second in
                if family == AF_INET {
                    // Family, port and address: the first 8 bytes of a sockaddr_in.
                    return first[0..<8].elementsEqual(second[0..<8])
                }
                // sockaddr_in6: the port (bytes 2–3) and the address (bytes 8–23); not the flow label.
                return first[2..<4].elementsEqual(second[2..<4]) && first[8..<24].elementsEqual(second[8..<24])
            }
        }
    }

    static func socketAddress(_ storage: sockaddr_storage) -> SocketAddress? {
        var storage = storage
        return withUnsafePointer(to: &storage) { pointer -> SocketAddress? in
            switch Int32(pointer.pointee.ss_family) {
            case AF_INET: pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee, host: "") }
            case AF_INET6: pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee, host: "") }
            default: nil
            }
        }
    }
}
#endif
