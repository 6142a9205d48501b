#if os(Linux)
import CLinuxShims
import Glibc
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Foundation

/// Plain HTTP GETs and HEADs answered on one epoll loop per core, below SwiftNIO's channel pipeline.
///
/// Why it exists: on these machines a SwiftNIO server that answers every request with the same bytes and does
/// nothing else reaches about half of nginx's requests per second, while a plain epoll loop reaches about one and a
/// half times (`docs/BENCHMARKS.md`). A phone fleet's HTTP traffic is almost all small GETs, so those take this path.
///
/// Each loop accepts from its own listening socket on the shared address (`SO_REUSEPORT`), reads request heads with
/// ``HTTPHeadScanner`` and answers what ``FileService/readNow(_:loadingUpTo:)`` answers: files (small ones read from
/// disk on the spot, as nginx does), 304, ranges, 403, 404 and 401 challenges. Everything else (PUT, requests with
/// credentials, `/metrics`, a large file not yet in memory, anything the scanner does not accept) hands the connection,
/// with the bytes already read, to the SwiftNIO pipeline of ``HTTPServer``, which keeps it from then on. The rules
/// stay in ``FileService`` on both paths; responses on one connection stay in request order.
final class HTTPFastPath: Sendable {
    let address: SocketAddress
    /// One per loop, all on ``address``.
    private let listenSockets: [Int32]
    private let controls: [LoopControl]
    private let running: Mutex<(count: Int, waiters: [CheckedContinuation<Void, Never>])>
    private let service: FileService
    private let logger: Logger
    private let handOff: @Sendable (Int32, [UInt8]) -> Void

    /// A connection that sends nothing for this long is closed (nginx's `keepalive_timeout` is 75 s).
    static let idleTimeout: Duration = .seconds(60)
    /// Connections a loop accepts per wakeup (its own socket's queue, so a storm is taken in quickly).
    static let acceptsPerWakeup = 64

    /// Binds the listening sockets (so that a failure, such as a privileged port, is reported before anything runs).
    init(host: String, port: Int, threads: Int, service: FileService, logger: Logger,
         handOff: @escaping @Sendable (Int32, [UInt8]) -> Void) throws {
        listenSockets = try HTTPFastPath.listen(host: host, port: port, count: max(threads, 1))
        do {
            address = try HTTPFastPath.localAddress(listenSockets[0])
            controls = try listenSockets.map { _ in try LoopControl() }
        } catch {
            for socket in listenSockets { close(socket) }
            throw error
        }
        running = Mutex((0, []))
        self.service = service
        self.logger = logger
        self.handOff = handOff
    }

    /// Starts one thread per loop.
    func start() {
        running.withLock { $0.count = controls.count }
        for (index, control) in controls.enumerated() {
            let (listenSocket, service, logger, handOff) = (listenSockets[index], self.service, self.logger, self.handOff)
            let thread = Thread { [self] in
                clinux_name_thread("autoprov-http-\(index)")
                Loop(listenSocket: listenSocket, control: control, service: service, logger: logger, handOff: handOff)
                    .run()
                finished()
            }
            thread.start()
        }
    }

    /// Stops accepting, closes idle connections and lets responses being written finish, for at most `drainSeconds`.
    func stop(drainSeconds: Int64) {
        for control in controls { control.stop(drainSeconds: drainSeconds) }
    }

    /// Returns when every loop has stopped.
    func waitUntilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let stopped = running.withLock { state -> Bool in
                if state.count == 0 { return true }
                state.waiters.append(continuation)
                return false
            }
            if stopped { continuation.resume() }
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
    private static func listen(host: String, port: Int, count: Int) throws -> [Int32] {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
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
        let probe = try bound(&address, length: length, reusePort: false)
        let actualPort = HTTPFastPath.port(address: probe)
        close(probe)
        setPort(&address, actualPort)
        var sockets: [Int32] = []
        do {
            for _ in 0..<count {
                let descriptor = try bound(&address, length: length, reusePort: true)
                sockets.append(descriptor)
                guard Glibc.listen(descriptor, 1024) == 0 else { throw IOError(errnoCode: errno, reason: "listen") }
            }
        } catch {
            for socket in sockets { close(socket) }
            throw error
        }
        return sockets
    }

    private static func bound(_ address: inout sockaddr_storage, length: socklen_t, reusePort: Bool) throws -> Int32 {
        let descriptor = socket(Int32(address.ss_family), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                                    | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
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

    private static func setPort(_ storage: inout sockaddr_storage, _ port: Int) {
        let family = Int32(storage.ss_family)
        withUnsafeMutablePointer(to: &storage) { pointer in
            if family == AF_INET {
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port = UInt16(port).bigEndian }
            } else {
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port = UInt16(port).bigEndian }
            }
        }
    }

    private static func localAddress(_ descriptor: Int32) throws -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard status == 0 else { throw IOError(errnoCode: errno, reason: "getsockname") }
        return try SocketAddress(ipAddress: numericHost(storage), port: port(storage))
    }

    /// The numeric address of a peer or local socket (as `SocketAddress.ipAddress` writes it).
    static func numericHost(_ storage: sockaddr_storage) -> String {
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

    private static func port(_ storage: sockaddr_storage) -> Int {
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
private final class LoopControl: Sendable {
    let wakeDescriptor: Int32
    let stopRequest = Atomic<Int64>(-1)

    init() throws {
        wakeDescriptor = cepoll_eventfd()
        guard wakeDescriptor >= 0 else { throw IOError(errnoCode: errno, reason: "eventfd") }
    }

    func stop(drainSeconds: Int64) {
        stopRequest.store(max(drainSeconds, 0), ordering: .releasing)
        var one: UInt64 = 1
        _ = write(wakeDescriptor, &one, MemoryLayout<UInt64>.size)
    }
}

/// One connection owned by a loop.
private final class Connection {
    let descriptor: Int32
    let client: String
    /// Bytes of requests not answered yet (an unfinished head, or requests waiting for the socket to drain).
    var input: [UInt8] = []
    /// Response bytes the socket has not taken yet, in order.
    var output: [ByteBuffer] = []
    /// Waiting for the socket to take output (polled for writing, not reading).
    var writing = false
    var closeWhenWritten = false
    /// Once the output is written, the connection goes to the SwiftNIO path with ``input``.
    var handingOff = false
    var lastActive: ContinuousClock.Instant

    init(descriptor: Int32, client: String, now: ContinuousClock.Instant) {
        self.descriptor = descriptor
        self.client = client
        lastActive = now
    }
}

/// One epoll loop and the connections it owns; it lives on its own thread and shares nothing mutable.
private final class Loop {
    let listenSocket: Int32
    let control: LoopControl
    let service: FileService
    let logger: Logger
    let handOff: @Sendable (Int32, [UInt8]) -> Void
    let poll: Int32
    var connections: [Connection?] = []
    var connectionCount = 0
    /// Where `recv` writes.
    let received = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    /// Responses of one read, gathered for one `send`.
    var pending: [UInt8] = []
    var accepting = true
    var stopDeadline: ContinuousClock.Instant?

    init(listenSocket: Int32, control: LoopControl, service: FileService, logger: Logger,
         handOff: @escaping @Sendable (Int32, [UInt8]) -> Void) {
        self.listenSocket = listenSocket
        self.control = control
        self.service = service
        self.logger = logger
        self.handOff = handOff
        poll = epoll_create1(Int32(EPOLL_CLOEXEC))
        pending.reserveCapacity(64 * 1024)
    }

    deinit {
        received.deallocate()
    }

    func run() {
        guard poll >= 0 else {
            logger.error("http.fastpath: epoll_create1 failed", metadata: ["errno": "\(errno)"])
            return
        }
        defer { close(poll) }
        watch(listenSocket, EPOLLIN.rawValue, operation: EPOLL_CTL_ADD)
        watch(control.wakeDescriptor, EPOLLIN.rawValue, operation: EPOLL_CTL_ADD)
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var lastSweep = ContinuousClock.now
        while true {
            let ready = epoll_wait(poll, &events, Int32(events.count), 1000)
            if ready < 0, errno != EINTR {
                logger.error("http.fastpath: epoll_wait failed", metadata: ["errno": "\(errno)"])
                closeAll()
                return
            }
            for index in 0..<max(Int(ready), 0) {
                let descriptor = cepoll_fd(&events[index])
                if descriptor == listenSocket {
                    acceptConnections()
                } else if descriptor == control.wakeDescriptor {
                    var value: UInt64 = 0
                    _ = read(descriptor, &value, MemoryLayout<UInt64>.size)
                } else if let connection = connection(descriptor) {
                    if cepoll_events(&events[index]) & EPOLLOUT.rawValue != 0 {
                        writable(connection)
                    } else {
                        readable(connection)
                    }
                }
            }
            let now = ContinuousClock.now
            let drain = control.stopRequest.load(ordering: .acquiring)
            if drain >= 0, stopDeadline == nil { beginStopping(now, drainSeconds: drain) }
            if let stopDeadline, connectionCount == 0 || now >= stopDeadline {
                closeAll()
                return
            }
            if now - lastSweep >= .seconds(1) {
                sweep(now)
                lastSweep = now
            }
        }
    }

    // MARK: Connections

    private func connection(_ descriptor: Int32) -> Connection? {
        Int(descriptor) < connections.count ? connections[Int(descriptor)] : nil
    }

    private func acceptConnections() {
        for _ in 0..<HTTPFastPath.acceptsPerWakeup {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let descriptor = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { cepoll_accept(listenSocket, $0, &length) }
            }
            guard descriptor >= 0 else {
                switch errno {
                case EINTR, ECONNABORTED:
                    continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors: stop polling the listener for a second instead of spinning on it.
                    logger.warning("http.fastpath: cannot accept", metadata: ["errno": "\(errno)"])
                    watch(listenSocket, 0, operation: EPOLL_CTL_DEL)
                    accepting = false
                    return
                default:
                    return
                }
            }
            var one: Int32 = 1
            setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let connection = Connection(descriptor: descriptor, client: HTTPFastPath.numericHost(storage),
                                        now: ContinuousClock.now)
            if Int(descriptor) >= connections.count {
                connections.append(contentsOf: repeatElement(nil, count: Int(descriptor) + 1024 - connections.count))
            }
            connections[Int(descriptor)] = connection
            connectionCount += 1
            watch(descriptor, EPOLLIN.rawValue, operation: EPOLL_CTL_ADD)
        }
    }

    private func forget(_ connection: Connection) {
        connections[Int(connection.descriptor)] = nil
        connectionCount -= 1
    }

    private func closeConnection(_ connection: Connection) {
        forget(connection)
        close(connection.descriptor)
    }

    /// Gives the connection and the bytes not yet answered to the SwiftNIO path.
    private func handOffConnection(_ connection: Connection) {
        watch(connection.descriptor, 0, operation: EPOLL_CTL_DEL)
        forget(connection)
        handOff(connection.descriptor, connection.input)
    }

    private func watch(_ descriptor: Int32, _ events: UInt32, operation: Int32) {
        var event = epoll_event()
        cepoll_set(&event, descriptor, events)
        _ = epoll_ctl(poll, operation, descriptor, &event)
    }

    private func beginStopping(_ now: ContinuousClock.Instant, drainSeconds: Int64) {
        stopDeadline = now + .seconds(drainSeconds)
        if accepting { watch(listenSocket, 0, operation: EPOLL_CTL_DEL) }
        accepting = false
        for case let connection? in connections {
            if connection.output.isEmpty {
                closeConnection(connection)
            } else {
                connection.closeWhenWritten = true
            }
        }
    }

    private func closeAll() {
        for case let connection? in connections { closeConnection(connection) }
    }

    /// Once a second: close idle connections, and listen again after running out of descriptors.
    private func sweep(_ now: ContinuousClock.Instant) {
        for case let connection? in connections where now - connection.lastActive > HTTPFastPath.idleTimeout {
            closeConnection(connection)
        }
        if !accepting, stopDeadline == nil {
            watch(listenSocket, EPOLLIN.rawValue, operation: EPOLL_CTL_ADD)
            accepting = true
        }
    }

    // MARK: Reading and answering

    private func readable(_ connection: Connection) {
        let count = recv(connection.descriptor, received.baseAddress, received.count, 0)
        if count == 0 {
            closeConnection(connection)
            return
        }
        if count < 0 {
            if errno != EAGAIN, errno != EWOULDBLOCK, errno != EINTR { closeConnection(connection) }
            return
        }
        connection.lastActive = ContinuousClock.now
        let fresh = UnsafeRawBufferPointer(rebasing: received[0..<count])
        if connection.input.isEmpty {
            let answered = answer(fresh, on: connection)
            if answered < count { connection.input = Array(fresh[answered...]) }
        } else {
            connection.input.append(contentsOf: fresh)
            answerBuffered(connection)
        }
        flush(connection)
    }

    /// Answers what ``Connection/input`` holds, keeping what is left.
    private func answerBuffered(_ connection: Connection) {
        let answered = connection.input.withUnsafeBytes { answer($0, on: connection) }
        connection.input.removeFirst(answered)
    }

    /// Answers the complete requests at the start of `bytes`; returns how many bytes they took.
    private func answer(_ bytes: UnsafeRawBufferPointer, on connection: Connection) -> Int {
        var offset = 0
        while offset < bytes.count {
            switch HTTPHeadScanner.scan(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            case .incomplete:
                return offset
            case .handOff:
                connection.handingOff = true
                return offset
            case .request(let head):
                guard answer(head, on: connection) else {
                    connection.handingOff = true
                    return offset
                }
                offset += head.length
                if connection.closeWhenWritten { return bytes.count }
            }
        }
        return offset
    }

    /// Answers one request into ``pending``; false when the SwiftNIO path must answer it.
    private func answer(_ head: FastRequestHead, on connection: Connection) -> Bool {
        let outcome = HTTPQuickAnswer.answer(
            head, protocolName: "http", client: connection.client, certificateSubject: nil, service: service,
            keepAlive: !head.close && stopDeadline == nil
        ) { append($0, for: connection) }
        switch outcome {
        case .handOff:
            return false
        case .answered(let staysOpen):
            if !staysOpen { connection.closeWhenWritten = true }
            return true
        }
    }

    /// Small buffers are copied into ``pending`` (one `send` for many responses); large ones are queued as they are.
    private func append(_ buffer: ByteBuffer, for connection: Connection) {
        if buffer.readableBytes <= 16 * 1024 {
            buffer.withUnsafeReadableBytes { pending.append(contentsOf: $0) }
            return
        }
        if !pending.isEmpty {
            connection.output.append(ByteBuffer(bytes: pending))
            pending.removeAll(keepingCapacity: true)
        }
        connection.output.append(buffer)
    }

    // MARK: Writing

    /// Sends what the last answers produced, then decides what the connection waits for.
    private func flush(_ connection: Connection) {
        if !pending.isEmpty {
            if connection.output.isEmpty {
                let sent = pending.withUnsafeBytes { send(connection.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if sent < 0, errno != EAGAIN, errno != EWOULDBLOCK, errno != EINTR {
                    pending.removeAll(keepingCapacity: true)
                    closeConnection(connection)
                    return
                }
                let taken = max(sent, 0)
                if taken < pending.count { connection.output.append(ByteBuffer(bytes: pending[taken...])) }
            } else {
                connection.output.append(ByteBuffer(bytes: pending))
            }
            if pending.capacity > 1024 * 1024 {
                pending = []
                pending.reserveCapacity(64 * 1024)
            } else {
                pending.removeAll(keepingCapacity: true)
            }
        }
        guard drain(connection) else { return }
        settle(connection)
    }

    /// Writes queued output until the socket is full; false when the connection failed and is closed.
    private func drain(_ connection: Connection) -> Bool {
        while !connection.output.isEmpty {
            let sent = connection.output[0].withUnsafeReadableBytes {
                send(connection.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return true }
                closeConnection(connection)
                return false
            }
            connection.lastActive = ContinuousClock.now
            if sent < connection.output[0].readableBytes {
                connection.output[0].moveReaderIndex(forwardBy: sent)
                return true
            }
            connection.output.removeFirst()
        }
        return true
    }

    /// After writing: wait for the socket to drain, or close, or hand off, or read on.
    private func settle(_ connection: Connection) {
        if !connection.output.isEmpty {
            if !connection.writing {
                watch(connection.descriptor, EPOLLOUT.rawValue, operation: EPOLL_CTL_MOD)
                connection.writing = true
            }
            return
        }
        if connection.closeWhenWritten {
            closeConnection(connection)
            return
        }
        if connection.handingOff {
            handOffConnection(connection)
            return
        }
        if connection.writing {
            watch(connection.descriptor, EPOLLIN.rawValue, operation: EPOLL_CTL_MOD)
            connection.writing = false
        }
    }

    private func writable(_ connection: Connection) {
        guard drain(connection) else { return }
        if connection.output.isEmpty, !connection.input.isEmpty, !connection.handingOff, !connection.closeWhenWritten {
            // Requests that arrived with the ones just written.
            answerBuffered(connection)
            flush(connection)
            return
        }
        settle(connection)
    }
}
#endif
