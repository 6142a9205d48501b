#if os(Linux)
import CLinuxShims
import Glibc
import NIOCore
import ServiceLifecycle
import Synchronization
import Foundation

/// Epoll loops, one thread each, each accepting from its own listening socket on one shared address
/// (`SO_REUSEPORT`): what the HTTP and FTP fast paths run on.
public final class FastLoopGroup: Sendable {
    public let address: SocketAddress
    /// One per loop, all on ``address``.
    private let listenSockets: [Int32]
    private let controls: [LoopControl]
    private let running: Mutex<(count: Int, waiters: [CheckedContinuation<Void, Never>])>

    /// Binds the listening sockets (so that a failure, such as a privileged port, is reported before anything runs);
    /// `datagram`: UDP sockets that receive requests (TFTP) instead of TCP sockets that accept connections.
    public init(host: String, port: Int, threads: Int, datagram: Bool = false) throws {
        listenSockets = try FastLoopGroup.listen(host: host, port: port, count: max(threads, 1), datagram: datagram)
        do {
            address = try FastLoopGroup.localAddress(listenSockets[0])
            controls = try listenSockets.map { _ in try LoopControl() }
        } catch {
            for socket in listenSockets { close(socket) }
            throw error
        }
        running = Mutex((0, []))
    }

    /// Starts one thread per loop; `run` is the loop's body and returns when the loop has stopped.
    public func start(threadName: String, run: @escaping @Sendable (_ listenSocket: Int32, LoopControl) -> Void) {
        running.withLock { $0.count = controls.count }
        for (index, control) in controls.enumerated() {
            let listenSocket = listenSockets[index]
            let thread = Thread { [self] in
                clinux_name_thread("\(threadName)-\(index)")
                run(listenSocket, control)
                finished()
            }
            thread.start()
        }
    }

    /// Asks every loop to stop accepting and to finish within `drainSeconds`.
    public func stop(drainSeconds: Int64) {
        for control in controls { control.stop(drainSeconds: drainSeconds) }
    }

    /// Returns when every loop has stopped.
    public func waitUntilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let stopped = running.withLock { state -> Bool in
                if state.count == 0 { return true }
                state.waiters.append(continuation)
                return false
            }
            if stopped { continuation.resume() }
        }
    }

    /// Runs until the service group shuts down (the loops then drain for at most `drainSeconds`) or the task is
    /// cancelled (they stop at once); returns when every loop has stopped.
    public func runUntilShutdown(drainSeconds: Int64) async {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await waitUntilStopped()
            } onCancel: {
                stop(drainSeconds: 0)
            }
        } onGracefulShutdown: {
            self.stop(drainSeconds: drainSeconds)
        }
    }

    private func finished() {
        let (last, waiters) = running.withLock { state -> (Bool, [CheckedContinuation<Void, Never>]) in
            state.count -= 1
            guard state.count == 0 else { return (false, []) }
            defer { state.waiters = [] }
            return (true, state.waiters)
        }
        guard last else { return }
        // The last loop out closes the sockets: no loop can be polling them any more.
        for socket in listenSockets { close(socket) }
        for control in controls { close(control.wakeDescriptor) }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: The listening socket

    /// `count` listening sockets on one address with `SO_REUSEPORT`: the kernel spreads connections over them by
    /// address hash, evenly. (One socket shared with `EPOLLEXCLUSIVE` let one loop take nine connections in ten.)
    private static func listen(host: String, port: Int, count: Int, datagram: Bool) throws -> [Int32] {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        let type = datagram ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue)
        hints.ai_socktype = type
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &found)
        guard status == 0, let first = found else {
            let reason = String(decoding: Array(UnsafeBufferPointer(start: gai_strerror(status),
                                                                    count: strlen(gai_strerror(status))))
                .map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw IOError(errnoCode: EINVAL, reason: "cannot resolve \(host): \(reason)")
        }
        defer { freeaddrinfo(found) }
        var address = sockaddr_storage()
        memcpy(&address, first.pointee.ai_addr, Int(first.pointee.ai_addrlen))
        let length = first.pointee.ai_addrlen
        // First a plain bind: every socket of a reuse-port group must set the option, so this fails when anyone
        // (say, a second autoprov) already listens on the port, instead of silently sharing its connections.
        let probe = try bound(&address, length: length, reusePort: false, type: type)
        let actualPort = FastLoopGroup.port(address: probe)
        close(probe)
        setPort(&address, actualPort)
        var sockets: [Int32] = []
        do {
            for _ in 0..<count {
                let descriptor = try bound(&address, length: length, reusePort: true, type: type)
                sockets.append(descriptor)
                guard !datagram else { continue }
                // Connections accepted from it inherit TCP_NODELAY (Linux copies the listener's options): one
                // setsockopt here instead of one per connection.
                var one: Int32 = 1
                setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                guard Glibc.listen(descriptor, 1024) == 0 else {
                    throw IOError(errnoCode: errno, reason: "listen")
                }
            }
        } catch {
            for socket in sockets { close(socket) }
            throw error
        }
        return sockets
    }

    public static func bound(_ address: inout sockaddr_storage, length: socklen_t, reusePort: Bool,
                             type: Int32 = Int32(SOCK_STREAM.rawValue)) throws -> Int32 {
        let descriptor = socket(Int32(address.ss_family), type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var one: Int32 = 1
        // Not on UDP: there SO_REUSEADDR let a second server bind the same port and silently share its requests.
        if type == Int32(SOCK_STREAM.rawValue) {
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        if reusePort { setsockopt(descriptor, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard result == 0 else {
            let code = errno
            close(descriptor)
            throw IOError(errnoCode: code, reason: "bind")
        }
        return descriptor
    }

    private static func port(address descriptor: Int32) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return port(storage)
    }

    public static func setPort(_ storage: inout sockaddr_storage, _ port: Int) {
        let family = Int32(storage.ss_family)
        withUnsafeMutablePointer(to: &storage) { pointer in
            if family == AF_INET {
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port = UInt16(port).bigEndian }
            } else {
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port = UInt16(port).bigEndian }
            }
        }
    }

    public static func localAddress(_ descriptor: Int32) throws -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard status == 0 else { throw IOError(errnoCode: errno, reason: "getsockname") }
        return try SocketAddress(ipAddress: numericHost(storage), port: port(storage))
    }

    /// The numeric address of a peer or local socket (as `SocketAddress.ipAddress` writes it).
    public static func numericHost(_ storage: sockaddr_storage) -> String {
        var storage = storage
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = Int32(storage.ss_family)
        let written: UnsafePointer<CChar>? = withUnsafePointer(to: &storage) { pointer in
            if family == AF_INET {
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    withUnsafePointer(to: address.pointee.sin_addr) {
                        inet_ntop(AF_INET, $0, &text, socklen_t(text.count))
                    }
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                withUnsafePointer(to: address.pointee.sin6_addr) {
                    inet_ntop(AF_INET6, $0, &text, socklen_t(text.count))
                }
            }
        }
        guard written != nil else { return "unknown" }
        return String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func port(_ storage: sockaddr_storage) -> Int {
        var storage = storage
        let family = Int32(storage.ss_family)
        return withUnsafePointer(to: &storage) { pointer in
            if family == AF_INET {
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
        }
    }
}

/// What other threads may do to a loop: ask it to stop (and wake it to notice).
public final class LoopControl: Sendable {
    public let wakeDescriptor: Int32
    public let stopRequest = Atomic<Int64>(-1)

    public init() throws {
        wakeDescriptor = cepoll_eventfd()
        guard wakeDescriptor >= 0 else { throw IOError(errnoCode: errno, reason: "eventfd") }
    }

    public func stop(drainSeconds: Int64) {
        stopRequest.store(max(drainSeconds, 0), ordering: .releasing)
        var one: UInt64 = 1
        _ = write(wakeDescriptor, &one, MemoryLayout<UInt64>.size)
    }

    /// Wakes the loop (its ``EpollLoop/Handlers/woken`` runs).
    public func wake() {
        var one: UInt64 = 1
        _ = write(wakeDescriptor, &one, MemoryLayout<UInt64>.size)
    }

    /// Called by the loop when the wake-up descriptor fired: resets it, so that it fires again at the next wake-up.
    public func acknowledge() {
        var value: UInt64 = 0
        _ = read(wakeDescriptor, &value, MemoryLayout<UInt64>.size)
    }
}

/// Where work finished off a loop's thread leaves its outcomes for the loop, waking it; the loop takes them all
/// when woken.
public final class LoopInbox<Item: Sendable>: Sendable {
    public let control: LoopControl
    private let items = Mutex<[Item]>([])

    public init(control: LoopControl) {
        self.control = control
    }

    public func post(_ item: Item) {
        items.withLock { $0.append(item) }
        control.wake()
    }

    public func take() -> [Item] {
        items.withLock { items in
            defer { items.removeAll() }
            return items
        }
    }
}

#endif
