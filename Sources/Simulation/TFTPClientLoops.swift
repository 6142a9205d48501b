#if os(Linux)
import CLinuxShims
import FastLoop
import Foundation
import Glibc
import NIOCore
import Synchronization

/// The simulator's TFTP transfers: one epoll thread per core, each transfer on a plain non-blocking UDP socket of its
/// own (its transfer ID, RFC 1350 §4), handed to a thread in turn and answered through its callback on that thread.
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

/// One thread's transfers: the descriptor of each, its session, where it sends, and when it last sent.
private final class TFTPClientLoop {
    struct Active {
        var session: TFTPReadSession
        var target: sockaddr_storage
        var targetLength: socklen_t
        var connected = false
        var lastSent: ContinuousClock.Instant
        let done: @Sendable (PhoneClient.Attempt) -> Void
    }

    let inbox: LoopInbox<Request>
    typealias Request = TFTPClientLoops.Request
    let poll = epoll_create1(Int32(EPOLL_CLOEXEC))
    var transfers: [Int32: Active] = [:]
    /// Where each datagram is read (the largest a TFTP block can be, and its header).
    var scratch = ByteBufferAllocator().buffer(capacity: 65_536 + 4)

    init(inbox: LoopInbox<Request>) {
        self.inbox = inbox
    }

    func run() {
        guard poll >= 0 else { return }
        var event = epoll_event()
        cepoll_set(&event, inbox.control.wakeDescriptor, EPOLLIN.rawValue)
        _ = epoll_ctl(poll, EPOLL_CTL_ADD, inbox.control.wakeDescriptor, &event)
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var lastSweep = ContinuousClock.now
        while true {
            // Idle, the thread sleeps until a transfer comes; busy, it wakes at least every 100 ms for the resends.
            let ready = epoll_wait(poll, &events, Int32(events.count), transfers.isEmpty ? -1 : 100)
            for index in 0..<max(Int(ready), 0) {
                let descriptor = cepoll_fd(&events[index])
                if descriptor == inbox.control.wakeDescriptor {
                    var value: UInt64 = 0
                    _ = read(descriptor, &value, MemoryLayout<UInt64>.size)
                    for request in inbox.take() { begin(request) }
                } else {
                    readable(descriptor)
                }
            }
            let now = ContinuousClock.now
            if now - lastSweep >= .milliseconds(100) {
                sweep(now)
                lastSweep = now
            }
        }
    }

    private func begin(_ request: Request) {
        var target = sockaddr_storage()
        let length = request.server.withSockAddr { address, length in
            withUnsafeMutableBytes(of: &target) { $0.baseAddress!.copyMemory(from: address, byteCount: length) }
            return socklen_t(length)
        }
        let descriptor = socket(Int32(target.ss_family), Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                                    | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            request.done(.failed("cannot open a socket (errno \(errno))"))
            return
        }
        var event = epoll_event()
        cepoll_set(&event, descriptor, EPOLLIN.rawValue)
        _ = epoll_ctl(poll, EPOLL_CTL_ADD, descriptor, &event)
        transfers[descriptor] = Active(session: request.session, target: target, targetLength: length,
                                       lastSent: .now, done: request.done)
        send(request.session.request, on: descriptor)
    }

    private func readable(_ descriptor: Int32) {
        // A few datagrams at a time: a transfer has at most one in flight unless the server resends.
        for _ in 0..<4 {
            guard transfers[descriptor] != nil else { return }
            var source = sockaddr_storage()
            var sourceLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            var failure: Int32 = 0
            scratch.clear()
            scratch.writeWithUnsafeMutableBytes(minimumWritableBytes: 65_536 + 4) { buffer in
                let count = withUnsafeMutablePointer(to: &source) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(descriptor, buffer.baseAddress, buffer.count, 0, $0, &sourceLength)
                    }
                }
                if count < 0 { failure = errno }
                return max(count, 0)
            }
            if failure == EAGAIN || failure == EWOULDBLOCK || failure == EINTR { return }
            if failure != 0 {
                end(descriptor, .failed(failure == ECONNREFUSED ? "connection refused" : "errno \(failure)"))
                return
            }
            if transfers[descriptor]?.connected == false {
                // The server's first answer names its transfer ID: from now on only it is heard (the kernel drops
                // the rest), and it is where the acknowledgements go.
                _ = withUnsafePointer(to: &source) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, sourceLength) }
                }
                transfers[descriptor]?.connected = true
                transfers[descriptor]?.target = source
                transfers[descriptor]?.targetLength = sourceLength
            }
            guard let step = transfers[descriptor]?.session.receive(scratch) else { return }
            if let packet = step.send { send(packet, on: descriptor) }
            if let end = step.end {
                self.end(descriptor, end)
                return
            }
        }
    }

    /// Resends what went unanswered for a second, and ends what went unanswered too often.
    private func sweep(_ now: ContinuousClock.Instant) {
        let silent = transfers.compactMap { now - $0.value.lastSent >= .seconds(1) ? $0.key : nil }
        for descriptor in silent {
            guard let step = transfers[descriptor]?.session.silence() else { continue }
            if let packet = step.send { send(packet, on: descriptor) }
            if let end = step.end { self.end(descriptor, end) }
        }
    }

    private func send(_ packet: [UInt8], on descriptor: Int32) {
        guard var active = transfers[descriptor] else { return }
        _ = packet.withUnsafeBytes { bytes in
            withUnsafePointer(to: &active.target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, bytes.baseAddress, bytes.count, 0, $0, active.targetLength)
                }
            }
        }
        // A datagram the kernel refused counts as sent and lost: the silence that follows resends it.
        transfers[descriptor]?.lastSent = .now
    }

    private func end(_ descriptor: Int32, _ attempt: PhoneClient.Attempt) {
        guard let active = transfers.removeValue(forKey: descriptor) else { return }
        close(descriptor)
        active.done(attempt)
    }
}
#endif
