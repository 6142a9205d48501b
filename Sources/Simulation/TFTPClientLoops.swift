#if os(Linux)
import CLinuxShims
import FastLoop
import Foundation
import Glibc
import NIOCore
import Synchronization

/// One TFTP read on a plain non-blocking UDP socket of its own (its transfer ID, RFC 1350 §4), for a thread that
/// polls it: the socket, where it sends, and the phone's side of the exchange (``TFTPReadSession``).
/// A client's non-blocking socket, and the address it talks to as the kernel takes it.
enum ClientSocket {
    static func open(_ type: Int32, to address: SocketAddress)
        -> Result<(socket: Int32, address: sockaddr_storage, length: socklen_t), ClientFailure> {
        var storage = sockaddr_storage()
        let length = address.withSockAddr { pointer, length in
            withUnsafeMutableBytes(of: &storage) { $0.baseAddress!.copyMemory(from: pointer, byteCount: length) }
            return socklen_t(length)
        }
        let descriptor = Glibc.socket(Int32(storage.ss_family), type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return .failure(ClientFailure(reason: "cannot open a socket (errno \(errno))")) }
        return .success((descriptor, storage, length))
    }
}

struct TFTPClientTransfer {
    let socket: Int32
    private var session: TFTPReadSession
    private var target: sockaddr_storage
    private var targetLength: socklen_t
    private var connected = false
    private(set) var lastSent: ContinuousClock.Instant

    /// Opens the socket and sends the request; the reason when no socket can be had.
    static func start(_ session: TFTPReadSession, to server: SocketAddress) -> Result<TFTPClientTransfer, ClientFailure> {
        ClientSocket.open(Int32(SOCK_DGRAM.rawValue), to: server).map { opened in
            var transfer = TFTPClientTransfer(socket: opened.socket, session: session, target: opened.address,
                                              targetLength: opened.length, lastSent: .now)
            transfer.send(session.request)
            return transfer
        }
    }

    /// Reads what has come (a few datagrams at most); the end of the transfer when it has come.
    mutating func readable(into scratch: inout ByteBuffer) -> PhoneClient.Attempt? {
        for _ in 0..<4 {
            var source = sockaddr_storage()
            var sourceLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            var failure: Int32 = 0
            let socket = socket
            scratch.clear()
            scratch.writeWithUnsafeMutableBytes(minimumWritableBytes: 65_536 + 4) { buffer in
                let count = withUnsafeMutablePointer(to: &source) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(socket, buffer.baseAddress, buffer.count, 0, $0, &sourceLength)
                    }
                }
                if count < 0 { failure = errno }
                return max(count, 0)
            }
            if failure == EAGAIN || failure == EWOULDBLOCK || failure == EINTR { return nil }
            if failure != 0 { return .failed(failure == ECONNREFUSED ? "connection refused" : "errno \(failure)") }
            if !connected {
                // The server's first answer names its transfer ID: from now on only it is heard (the kernel drops
                // the rest), and it is where the acknowledgements go.
                _ = withUnsafePointer(to: &source) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, sourceLength) }
                }
                connected = true
                target = source
                targetLength = sourceLength
            }
            let step = session.receive(scratch)
            if let packet = step.send { send(packet) }
            if let end = step.end { return end }
        }
        return nil
    }

    /// A second without an answer: the last packet again, or the end.
    mutating func silence() -> PhoneClient.Attempt? {
        let step = session.silence()
        if let packet = step.send { send(packet) }
        return step.end
    }

    private mutating func send(_ packet: [UInt8]) {
        var target = target
        let (socket, length) = (socket, targetLength)
        _ = packet.withUnsafeBytes { bytes in
            withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(socket, bytes.baseAddress, bytes.count, 0, $0, length)
                }
            }
        }
        // A datagram the kernel refused counts as sent and lost: the silence that follows resends it.
        lastSent = .now
    }
}

/// The simulator's TFTP transfers for single phones: one epoll thread per core, each transfer handed to a thread in
/// turn and answered through its callback on that thread. (A fleet runs its phones on threads of its own,
/// ``EpollFleet``.)
final class TFTPClientLoops: Sendable {
    /// Started at the first transfer; nil when the threads' descriptors could not be made.
    static let shared: TFTPClientLoops? = try? TFTPClientLoops(threads: System.coreCount)

    struct Request: Sendable {
        var server: SocketAddress
        var session: TFTPReadSession
        var done: @Sendable (PhoneClient.Attempt) -> Void
    }

    private let inboxes: [LoopInbox<Request>]
    private let turn = Atomic<Int>(0)

    init(threads: Int) throws {
        inboxes = try (0..<max(threads, 1)).map { _ in LoopInbox<Request>(control: try LoopControl()) }
        for (index, inbox) in inboxes.enumerated() {
            Thread {
                clinux_name_thread("tftp-client-\(index)")
                TFTPClientLoop(inbox: inbox).run()
            }.start()
        }
    }

    func start(_ request: Request) {
        inboxes[turn.add(1, ordering: .relaxed).oldValue % inboxes.count].post(request)
    }
}

/// One thread's transfers, by descriptor.
private final class TFTPClientLoop {
    typealias Request = TFTPClientLoops.Request
    let inbox: LoopInbox<Request>
    let poll = epoll_create1(Int32(EPOLL_CLOEXEC))
    var transfers: [Int32: (transfer: TFTPClientTransfer, done: @Sendable (PhoneClient.Attempt) -> Void)] = [:]
    /// Where each datagram is read (the largest a TFTP block can be, and its header).
    var scratch = ByteBufferAllocator().buffer(capacity: 65_536 + 4)

    init(inbox: LoopInbox<Request>) {
        self.inbox = inbox
    }

    func run() {
        guard poll >= 0 else { return }
        watch(inbox.control.wakeDescriptor)
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var lastSweep = ContinuousClock.now
        while true {
            // Idle, the thread sleeps until a transfer comes; busy, it wakes at least every 100 ms for the resends.
            let ready = epoll_wait(poll, &events, Int32(events.count), transfers.isEmpty ? -1 : 100)
            for index in 0..<max(Int(ready), 0) {
                let descriptor = cepoll_fd(&events[index])
                if descriptor == inbox.control.wakeDescriptor {
                    inbox.control.acknowledge()
                    for request in inbox.take() { begin(request) }
                } else if let end = transfers[descriptor]?.transfer.readable(into: &scratch) {
                    self.end(descriptor, end)
                }
            }
            let now = ContinuousClock.now
            if now - lastSweep >= .milliseconds(100) {
                let silent = transfers.compactMap { now - $0.value.transfer.lastSent >= .seconds(1) ? $0.key : nil }
                for descriptor in silent {
                    if let end = transfers[descriptor]?.transfer.silence() { self.end(descriptor, end) }
                }
                lastSweep = now
            }
        }
    }

    private func watch(_ descriptor: Int32) {
        var event = epoll_event()
        cepoll_set(&event, descriptor, EPOLLIN.rawValue)
        _ = epoll_ctl(poll, EPOLL_CTL_ADD, descriptor, &event)
    }

    private func begin(_ request: Request) {
        switch TFTPClientTransfer.start(request.session, to: request.server) {
        case .failure(let failure):
            request.done(.failed(failure.reason))
        case .success(let transfer):
            watch(transfer.socket)
            transfers[transfer.socket] = (transfer, request.done)
        }
    }

    private func end(_ descriptor: Int32, _ attempt: PhoneClient.Attempt) {
        guard let (_, done) = transfers.removeValue(forKey: descriptor) else { return }
        close(descriptor)
        done(attempt)
    }
}
#endif
