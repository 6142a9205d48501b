#if os(Linux)
import CLinuxShims
import Glibc
import Logging

/// What the HTTP, FTP and TFTP fast-path loops share: the epoll set, the listening socket, the wake-up descriptor, and
/// stopping. The protocol's own loop says what each ready descriptor means.
public final class EpollLoop {
    public let poll: Int32
    public let listenSocket: Int32
    public let control: LoopControl
    public let logger: Logger
    /// The loop's name in log messages (`http.fastpath`, `ftp.fastpath`).
    public let name: String
    private(set) var accepting = true
    public private(set) var stopDeadline: ContinuousClock.Instant?

    public init(listenSocket: Int32, control: LoopControl, logger: Logger, name: String) {
        self.listenSocket = listenSocket
        self.control = control
        self.logger = logger
        self.name = name
        poll = epoll_create1(Int32(EPOLL_CLOEXEC))
    }

    /// What a protocol's loop does with the events.
    public struct Handlers {
        /// The listening socket has connections (TCP) or requests (UDP) waiting.
        public var accept: () -> Void
        /// The wake-up descriptor fired (besides a stop request, which is handled here).
        public var woken: () -> Void = {}
        /// Another descriptor is ready, with its epoll events.
        public var ready: (Int32, UInt32) -> Void
        /// Stopping began: close what is idle, let the rest finish.
        public var stopping: () -> Void
        /// Whether nothing is left to finish.
        public var finished: () -> Bool
        public var closeAll: () -> Void
        /// Every ``EpollLoop/run(yieldingAfterEachBatch:sweepingEvery:_:)`` interval (a second unless asked).
        public var sweep: (ContinuousClock.Instant) -> Void

        public init(accept: @escaping () -> Void, woken: @escaping () -> Void = {},
                    ready: @escaping (Int32, UInt32) -> Void, stopping: @escaping () -> Void,
                    finished: @escaping () -> Bool, closeAll: @escaping () -> Void,
                    sweep: @escaping (ContinuousClock.Instant) -> Void) {
            self.accept = accept
            self.woken = woken
            self.ready = ready
            self.stopping = stopping
            self.finished = finished
            self.closeAll = closeAll
            self.sweep = sweep
        }
    }

    /// Runs until stopped (and drained), or until epoll fails.
    /// `acceptingLast`: the listening socket's turn comes after the other descriptors ready in the same batch (TFTP:
    /// a client's last ACK, sent before its next request, ends its transfer before the request counts against its
    /// address's limit).
    public func run(yieldingAfterEachBatch yields: Bool, sweepingEvery interval: Duration = .seconds(1),
                    acceptingLast: Bool = false, _ handlers: Handlers) {
        let intervalMilliseconds = Int32(max(interval.components.seconds * 1000
                                             + interval.components.attoseconds / 1_000_000_000_000_000, 1))
        guard poll >= 0 else {
            logger.error("\(name): epoll_create1 failed", metadata: ["errno": "\(errno)"])
            return
        }
        defer { close(poll) }
        watch(listenSocket, EPOLLIN.rawValue, operation: EPOLL_CTL_ADD)
        watch(control.wakeDescriptor, EPOLLIN.rawValue, operation: EPOLL_CTL_ADD)
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var lastSweep = ContinuousClock.now
        while true {
            let ready = epoll_wait(poll, &events, Int32(events.count), intervalMilliseconds)
            if ready < 0, errno != EINTR {
                logger.error("\(name): epoll_wait failed", metadata: ["errno": "\(errno)"])
                handlers.closeAll()
                return
            }
            var listenerReady = false
            for index in 0..<max(Int(ready), 0) {
                let descriptor = cepoll_fd(&events[index])
                if descriptor == listenSocket {
                    if acceptingLast { listenerReady = true } else { handlers.accept() }
                } else if descriptor == control.wakeDescriptor {
                    control.acknowledge()
                    handlers.woken()
                } else {
                    handlers.ready(descriptor, cepoll_events(&events[index]))
                }
            }
            if listenerReady { handlers.accept() }
            // A loop with work never blocks in epoll_wait, so the scheduler would let it run a whole slice while
            // the clients it answers wait for a core; giving the core up after each batch cut wrk's p99 on two
            // shared cores from about 7.8 ms to 5.3 ms at the same throughput.
            if yields, ready > 0 { sched_yield() }
            let now = ContinuousClock.now
            let drain = control.stopRequest.load(ordering: .acquiring)
            if drain >= 0, stopDeadline == nil {
                stopDeadline = now + .seconds(drain)
                if accepting { watch(listenSocket, 0, operation: EPOLL_CTL_DEL) }
                accepting = false
                // Stop listening, not only accepting: a client that connects during the drain is refused at once
                // instead of waiting in the backlog until the process exits. (The descriptor is closed later, by
                // the group, once no loop polls it.)
                shutdown(listenSocket, Int32(SHUT_RDWR))
                handlers.stopping()
            }
            if let stopDeadline, handlers.finished() || now >= stopDeadline {
                if !handlers.finished() {
                    logger.notice("\(name): connections still open at the drain deadline are closed")
                }
                handlers.closeAll()
                return
            }
            if now - lastSweep >= interval {
                handlers.sweep(now)
                // Listen again after running out of descriptors.
                if !accepting, stopDeadline == nil {
                    watch(listenSocket, EPOLLIN.rawValue, operation: EPOLL_CTL_ADD)
                    accepting = true
                }
                lastSweep = now
            }
        }
    }

    public func watch(_ descriptor: Int32, _ events: UInt32, operation: Int32) {
        var event = epoll_event()
        cepoll_set(&event, descriptor, events)
        _ = epoll_ctl(poll, operation, descriptor, &event)
    }

    /// Polls a connection for writing while it has output waiting, else for reading; `writing` says which it is.
    public func poll(_ descriptor: Int32, forWriting wanted: Bool, writing: inout Bool) {
        guard wanted != writing else { return }
        watch(descriptor, wanted ? EPOLLOUT.rawValue : EPOLLIN.rawValue, operation: EPOLL_CTL_MOD)
        writing = wanted
    }

    /// Reads what `descriptor` has into `buffer`: the count (0: nothing yet), or nil when the peer closed or the
    /// connection failed.
    public func receive(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let count = recv(descriptor, buffer.baseAddress, buffer.count, 0)
        if count > 0 { return count }
        if count < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return 0 }
        return nil
    }

    /// Accepts up to `most` connections from the listening socket (non-blocking; TCP_NODELAY, inherited from the
    /// listener), each with its peer's address.
    public func acceptConnections(most: Int, _ accepted: (Int32, sockaddr_storage) -> Void) {
        for _ in 0..<most {
            guard let (descriptor, peer) = acceptOne(listenSocket) else { return }
            accepted(descriptor, peer)
        }
    }

    /// One connection from `socket` (the listener, or a passive FTP listener); nil when none is waiting. Out of
    /// descriptors, the listening socket is not polled for a second, instead of spinning on it.
    public func acceptOne(_ socket: Int32) -> (Int32, sockaddr_storage)? {
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let descriptor = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { cepoll_accept(socket, $0, &length) }
            }
            if descriptor >= 0 { return (descriptor, storage) }
            switch errno {
            case EINTR, ECONNABORTED:
                continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                if socket == listenSocket {
                    logger.warning("\(name): cannot accept", metadata: ["errno": "\(errno)"])
                    watch(listenSocket, 0, operation: EPOLL_CTL_DEL)
                    accepting = false
                }
                return nil
            default:
                return nil
            }
        }
    }
}
#endif
