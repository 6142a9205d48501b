#if os(Linux)
import FastLoop
import FileService
import CLinuxShims
import Glibc
import Logging
import NIOCore
import ProvisioningCore
import WireProtocols

/// One connection owned by a loop.
final class HTTPFastConnection {
    let descriptor: Int32
    /// Tells this connection from a later one on the same descriptor (for outcomes of work off the loop).
    let serial: UInt64
    let client: String
    /// Bytes of requests not answered yet (an unfinished head, or requests waiting for the socket to drain).
    var input: [UInt8] = []
    /// Response bytes the socket has not taken yet, in order.
    var output: [ByteBuffer] = []
    /// Waiting for the socket to take output (polled for writing, not reading).
    var writing = false
    /// In the loop's epoll set: not until a read found nothing (most connections are answered and closed without).
    var watched = false
    var closeWhenWritten = false
    /// Once the output is written, the connection goes to the SwiftNIO path with ``input``.
    var handingOff = false
    /// An upload is being stored off the loop: requests after it wait in ``input`` for its answer.
    var waiting = false
    var lastActive: ContinuousClock.Instant
    /// When the request head being waited for began (the connection's start, or the first byte after an answered
    /// request); nil while the connection idles between requests. A head must be whole within the head timeout, so
    /// a client that sends a byte every few seconds cannot keep a connection forever (S6).
    var headStarted: ContinuousClock.Instant?

    init(descriptor: Int32, serial: UInt64, client: String, now: ContinuousClock.Instant) {
        self.descriptor = descriptor
        self.serial = serial
        self.client = client
        lastActive = now
        headStarted = now
    }
}

/// One epoll loop and the connections it owns; it lives on its own thread and shares nothing mutable.
final class HTTPFastLoop {
    let loop: EpollLoop
    let service: FileService
    let limits: HTTPLimits
    let handOff: @Sendable (Int32, [UInt8]) -> Void
    /// Where stored uploads come back (``HTTPFastLoop/complete(_:)``).
    let inbox: LoopInbox<HTTPFastUpload.Stored>
    var connections: [HTTPFastConnection?] = []
    var connectionCount = 0
    var nextSerial: UInt64 = 0
    /// Where `recv` writes.
    let received = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    /// Responses of one read, gathered for one `send`.
    var pending: [UInt8] = []

    init(listenSocket: Int32, control: LoopControl, service: FileService, limits: HTTPLimits, logger: Logger,
         handOff: @escaping @Sendable (Int32, [UInt8]) -> Void) {
        loop = EpollLoop(listenSocket: listenSocket, control: control, logger: logger, name: "http.fastpath")
        inbox = LoopInbox(control: control)
        self.service = service
        self.limits = limits
        self.handOff = handOff
        pending.reserveCapacity(64 * 1024)
    }

    deinit {
        received.deallocate()
    }

    func run() {
        loop.run(yieldingAfterEachBatch: true, EpollLoop.Handlers(
            accept: { self.acceptConnections() },
            woken: { for stored in self.inbox.take() { self.complete(stored) } },
            ready: { descriptor, events in
                guard let connection = self.connection(descriptor) else { return }
                if events & EPOLLOUT.rawValue != 0 { self.writable(connection) } else { self.readable(connection) }
            },
            stopping: { self.beginStopping() },
            finished: { self.connectionCount == 0 },
            closeAll: { self.closeAll() },
            sweep: { self.sweep($0) }))
    }

    private func watch(_ descriptor: Int32, _ events: UInt32, operation: Int32) {
        loop.watch(descriptor, events, operation: operation)
    }

    // MARK: FastConnections

    func connection(_ descriptor: Int32) -> HTTPFastConnection? {
        Int(descriptor) < connections.count ? connections[Int(descriptor)] : nil
    }

    private func acceptConnections() {
        loop.acceptConnections(most: HTTPFastPath.acceptsPerWakeup) { descriptor, peer in
            let client = FastLoopGroup.numericHost(peer)
            // One address may not hold every connection (S6); counted until closed here or on the SwiftNIO path.
            guard limits.connections.admit(client) else {
                close(descriptor)
                return
            }
            nextSerial += 1
            let connection = HTTPFastConnection(descriptor: descriptor, serial: nextSerial, client: client,
                                                now: ContinuousClock.now)
            if Int(descriptor) >= connections.count {
                connections.append(contentsOf: repeatElement(nil, count: Int(descriptor) + 1024 - connections.count))
            }
            connections[Int(descriptor)] = connection
            connectionCount += 1
            // A phone's request usually arrives with its connection: read it now, and poll the connection only when
            // it has to wait (for a request, or for the socket to drain). A connection answered and closed at once
            // costs no epoll_ctl and no wake-up.
            readable(connection)
        }
    }

    private func forget(_ connection: HTTPFastConnection) {
        connections[Int(connection.descriptor)] = nil
        connectionCount -= 1
    }

    func closeConnection(_ connection: HTTPFastConnection) {
        forget(connection)
        close(connection.descriptor)
        limits.connections.release(connection.client)
    }

    /// Gives the connection and the bytes not yet answered to the SwiftNIO path.
    private func handOffConnection(_ connection: HTTPFastConnection) {
        if connection.watched { watch(connection.descriptor, 0, operation: EPOLL_CTL_DEL) }
        forget(connection)
        handOff(connection.descriptor, connection.input)
    }

    private func beginStopping() {
        for case let connection? in connections {
            if connection.output.isEmpty, !connection.waiting {
                closeConnection(connection)
            } else {
                connection.closeWhenWritten = true
            }
        }
    }

    private func closeAll() {
        for case let connection? in connections { closeConnection(connection) }
    }

    /// Once a second: close idle connections.
    /// Once a second: close idle connections, and those whose request head is overdue.
    private func sweep(_ now: ContinuousClock.Instant) {
        let headTimeout = limits.headTimeout
        for case let connection? in connections where !connection.waiting {
            if let started = connection.headStarted, now - started > headTimeout, connection.output.isEmpty {
                service.metrics.event("head-timeout")
                closeConnection(connection)
            } else if now - connection.lastActive > HTTPFastPath.idleTimeout {
                closeConnection(connection)
            }
        }
    }

    // MARK: Reading and answering

    private func readable(_ connection: HTTPFastConnection) {
        guard let count = loop.receive(connection.descriptor, into: received) else { return closeConnection(connection) }
        guard count > 0 else {
            if !connection.watched { waitFor(connection, writing: false) }
            return
        }
        let now = ContinuousClock.now
        connection.lastActive = now
        if connection.headStarted == nil { connection.headStarted = now }
        let fresh = UnsafeRawBufferPointer(rebasing: received[0..<count])
        if connection.waiting {
            // Requests behind an upload being stored wait for its answer; a phone sends none, so a pile of them is
            // no phone's (S6).
            connection.input.append(contentsOf: fresh)
            if connection.input.count > HTTPFastUpload.mostHeldWhileStoring { closeConnection(connection) }
            return
        }
        if connection.input.isEmpty {
            let answered = answer(fresh, on: connection)
            if answered < count { connection.input = Array(fresh[answered...]) }
        } else {
            connection.input.append(contentsOf: fresh)
            answerBuffered(connection)
        }
        // Every request read was answered: the clock for the next head starts with its first byte.
        if connection.input.isEmpty { connection.headStarted = nil }
        flush(connection)
    }

    /// Answers what ``HTTPFastConnection/input`` holds, keeping what is left.
    func answerBuffered(_ connection: HTTPFastConnection) {
        let answered = connection.input.withUnsafeBytes { answer($0, on: connection) }
        connection.input.removeFirst(answered)
    }

    /// Answers the complete requests at the start of `bytes`; returns how many bytes they took.
    private func answer(_ bytes: UnsafeRawBufferPointer, on connection: HTTPFastConnection) -> Int {
        var offset = 0
        while offset < bytes.count, !connection.waiting {
            switch HTTPHeadScanner.scan(UnsafeRawBufferPointer(rebasing: bytes[offset...]), limit: limits.headBytes) {
            case .incomplete:
                return offset
            case .handOff:
                connection.handingOff = true
                return offset
            case .request(let head) where head.method == .put:
                let body = UnsafeRawBufferPointer(rebasing: bytes[(offset + head.length)...])
                switch upload(head, body: body, on: connection) {
                case .incomplete:
                    return offset
                case .handOff:
                    connection.handingOff = true
                    return offset
                case .storing:
                    offset += head.length + head.contentLength
                }
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
    private func answer(_ head: FastRequestHead, on connection: HTTPFastConnection) -> Bool {
        let outcome = HTTPQuickAnswer.answer(
            head, fileProtocol: .http, client: connection.client, certificateSubject: nil, service: service,
            keepAlive: !head.close && loop.stopDeadline == nil
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
    func append(_ buffer: ByteBuffer, for connection: HTTPFastConnection) {
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
    func flush(_ connection: HTTPFastConnection) {
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
    private func drain(_ connection: HTTPFastConnection) -> Bool {
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
    private func settle(_ connection: HTTPFastConnection) {
        if !connection.output.isEmpty {
            waitFor(connection, writing: true)
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
        waitFor(connection, writing: false)
    }

    /// Polls the connection for writing (output waiting) or for reading, adding it to the epoll set the first time.
    private func waitFor(_ connection: HTTPFastConnection, writing wanted: Bool) {
        guard connection.watched else {
            watch(connection.descriptor, wanted ? EPOLLOUT.rawValue : EPOLLIN.rawValue, operation: EPOLL_CTL_ADD)
            connection.watched = true
            connection.writing = wanted
            return
        }
        loop.poll(connection.descriptor, forWriting: wanted, writing: &connection.writing)
    }

    private func writable(_ connection: HTTPFastConnection) {
        guard drain(connection) else { return }
        if connection.output.isEmpty, !connection.input.isEmpty, !connection.handingOff, !connection.closeWhenWritten {
            // Requests that arrived with the ones just written.
            answerBuffered(connection)
            if connection.input.isEmpty { connection.headStarted = nil }
            flush(connection)
            return
        }
        settle(connection)
    }
}
#endif
