// FastPath/: plain FTP sessions on epoll loops (FastLoop); they carry out FTPSessionState's decisions and hand TLS and
// active data connections to FTPServer (SwiftNIO).
#if os(Linux)
import FastLoop
import CLinuxShims
import Foundation
import Glibc
import Logging
import NIOCore
import WireProtocols

/// What a descriptor of the loop belongs to.
enum FTPFastOwner {
    case control(FTPFastSession)
    case passive(FTPFastSession)
    case data(FTPFastSession)
    /// The loop's timer for held replies.
    case timer
}

/// One epoll loop of the FTP fast path and the sessions it owns; it lives on its own thread and shares nothing
/// mutable (outcomes of work off the loop come back through ``FTPFastInbox``).
final class FTPFastLoop {
    let loop: EpollLoop
    let inbox: FTPFastInbox
    let server: FTPServer
    let front: FTPFrontEnd
    var owners: [FTPFastOwner?] = []
    var sessionCount = 0
    var nextSerial: UInt64 = 0
    /// Where `recv` writes.
    let received = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    /// Fires when the first held reply is due.
    let timer = cepoll_timerfd()
    /// Sessions whose passive reply waits, in the order they are due.
    var held = CircularBuffer<(due: ContinuousClock.Instant, session: FTPFastSession)>()

    var configuration: FTPServerConfiguration { server.configuration }
    /// A session that sends nothing for this long is closed.
    let idleTimeout: Duration
    /// A data connection that moves nothing for this long aborts its transfer.
    static let dataIdleTimeout: Duration = .seconds(60)
    /// A client that sends this much while a transfer runs is not an FTP client.
    static let mostBufferedInput = 64 * 1024

    init(listenSocket: Int32, inbox: FTPFastInbox, server: FTPServer, front: FTPFrontEnd, logger: Logger) {
        loop = EpollLoop(listenSocket: listenSocket, control: inbox.control, logger: logger, name: "ftp.fastpath")
        self.inbox = inbox
        self.server = server
        self.front = front
        idleTimeout = Duration(server.configuration.idleTimeout)
    }

    deinit {
        received.deallocate()
        close(timer)
    }

    func run() {
        own(timer, .timer)
        watch(timer, EPOLLIN.rawValue, operation: EPOLL_CTL_ADD)
        loop.run(yieldingAfterEachBatch: false, EpollLoop.Handlers(
            accept: { self.acceptSessions() },
            woken: { for completion in self.inbox.take() { self.complete(completion) } },
            ready: { self.dispatch($0, events: $1) },
            stopping: { self.beginStopping() },
            finished: { self.sessionCount == 0 },
            closeAll: { self.closeAll() },
            sweep: { self.sweep($0) }))
    }

    private func dispatch(_ descriptor: Int32, events: UInt32) {
        guard Int(descriptor) < owners.count, let owner = owners[Int(descriptor)] else { return }
        switch owner {
        case .control(let session):
            if events & EPOLLOUT.rawValue != 0 { writable(session) } else { readable(session) }
        case .passive(let session):
            acceptData(session)
        case .data(let session):
            dataReady(session)
        case .timer:
            releaseHeldReplies()
        }
    }

    // MARK: Sessions

    private func acceptSessions() {
        loop.acceptConnections(most: 16) { descriptor, peer in
            let client = FastLoopGroup.numericHost(peer)
            // One address may not hold every session (S6): counted until the session ends here or is handed over.
            guard front.sessionLimits.admit(client) else {
                let refusal = FTPReply(421, "Too many connections from your address, try later").wire
                _ = send(descriptor, refusal, refusal.utf8.count, Int32(MSG_NOSIGNAL))
                close(descriptor)
                return
            }
            guard server.reserveSession() else {
                front.sessionLimits.release(client)
                // Best effort: a socket just accepted takes a short reply.
                let refusal = FTPServer.tooManySessions.wire
                _ = send(descriptor, refusal, refusal.utf8.count, Int32(MSG_NOSIGNAL))
                close(descriptor)
                return
            }
            var local = sockaddr_storage()
            var localLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &localLength) }
            }
            nextSerial += 1
            let session = FTPFastSession(descriptor: descriptor, serial: nextSerial, client: client, local: local,
                                         now: .now)
            own(descriptor, .control(session))
            sessionCount += 1
            watch(descriptor, EPOLLIN.rawValue, operation: EPOLL_CTL_ADD)
            reply(session, FTPReply(220, "autoprov FTP server ready"))
            flush(session)
        }
    }

    func own(_ descriptor: Int32, _ owner: FTPFastOwner?) {
        if Int(descriptor) >= owners.count {
            owners.append(contentsOf: repeatElement(nil, count: Int(descriptor) + 1024 - owners.count))
        }
        owners[Int(descriptor)] = owner
    }

    func watch(_ descriptor: Int32, _ events: UInt32, operation: Int32) {
        loop.watch(descriptor, events, operation: operation)
    }

    /// Closes a descriptor the loop owns (closing also takes it out of the epoll set).
    func release(_ descriptor: Int32) {
        own(descriptor, nil)
        close(descriptor)
    }

    func endSession(_ session: FTPFastSession) {
        guard !session.closed else { return }
        closeDataPlan(session)
        release(session.descriptor)
        session.closed = true
        sessionCount -= 1
        server.releaseSession()
        front.sessionLimits.release(session.client)
    }

    /// Gives the session to the SwiftNIO server: its state, and the commands not answered yet (the next first).
    private func handOff(_ session: FTPFastSession) {
        closeDataPlan(session)
        watch(session.descriptor, 0, operation: EPOLL_CTL_DEL)
        own(session.descriptor, nil)
        session.closed = true
        sessionCount -= 1
        // Still counted against its address until the SwiftNIO side ends it, and still bound by its login deadline.
        let (limits, client) = (front.sessionLimits, session.client)
        server.adopt(descriptor: session.descriptor, state: session.state, replaying: session.input,
                     opened: session.opened, ended: { limits.release(client) })
    }

    private func beginStopping() {
        for case .control(let session)? in owners {
            if session.busy || !session.output.isEmpty {
                session.closeWhenWritten = true
            } else {
                endSession(session)
            }
        }
    }

    private func closeAll() {
        for case .control(let session)? in owners { endSession(session) }
    }

    /// Once a second: idle sessions, and data connections that never came or stopped moving.
    private func sweep(_ now: ContinuousClock.Instant) {
        let loginTimeout = front.loginTimeout
        for case .control(let session)? in owners {
            if !session.busy, now - session.lastActive > idleTimeout {
                endSession(session)
            } else if session.state.login == nil, now - session.opened > loginTimeout {
                // Not logged in in time: a session that only holds its place is closed (S6).
                front.loginTimedOut(client: session.client)
                reply(session, FTPReply(421, "Login timed out"))
                flush(session)
                endSession(session)
            } else if session.transfer != nil, session.data < 0, let deadline = session.dataDeadline, now >= deadline {
                failTransfer(session, FTPReply(425, "Cannot open data connection"))
            } else if session.transfer != nil, session.data >= 0, now - session.lastActive > FTPFastLoop.dataIdleTimeout {
                failTransfer(session, FTPReply(426, "Connection closed; transfer aborted"))
            }
        }
    }

    // MARK: The control connection

    private func readable(_ session: FTPFastSession) {
        guard let count = loop.receive(session.descriptor, into: received) else { return endSession(session) }
        guard count > 0 else { return }
        session.lastActive = .now
        session.input.append(contentsOf: UnsafeRawBufferPointer(rebasing: received[0..<count]))
        if session.busy, session.input.count > FTPFastLoop.mostBufferedInput {
            endSession(session)
            return
        }
        // ABOR interrupts a transfer under way: 426 for the transfer, then the ABOR's own 226 (RFC 959 §4.1.3).
        if session.transfer != nil, let newline = session.input.firstIndex(of: UInt8(ascii: "\n")),
           FTPCommand.isAbort(session.input[..<newline]) {
            failTransfer(session, FTPReply(426, "Transfer aborted"))
            return
        }
        process(session)
    }

    /// Answers the complete command lines in the session's input, in order, until one must wait.
    func process(_ session: FTPFastSession) {
        while !session.closed, !session.busy, !session.closeWhenWritten, !session.handingOff {
            guard let newline = session.input.firstIndex(of: UInt8(ascii: "\n")) else {
                if session.input.count > configuration.maximumLineLength { tooLong(session) }
                break
            }
            guard newline <= configuration.maximumLineLength else {
                tooLong(session)
                break
            }
            let line = FTPCommand.text(of: session.input[..<newline])
            var next = session.state
            let action = next.action(for: line, tlsAvailable: configuration.tls != nil, client: session.client)
            switch action {
            case .startTLS, .connectActive:
                // TLS and active data connections are the SwiftNIO session's, from this command on.
                session.handingOff = true
            default:
                session.input.removeFirst(newline + 1)
                session.state = next
                perform(action, on: session)
            }
        }
        flush(session)
    }

    private func tooLong(_ session: FTPFastSession) {
        session.input = []
        reply(session, FTPReply(500, "Command line too long"))
        session.closeWhenWritten = true
    }

    private func perform(_ action: FTPSessionState.Action, on session: FTPFastSession) {
        switch action {
        case .reply(let answer):
            reply(session, answer)
        case .quit:
            reply(session, FTPReply(221, "Goodbye"))
            session.closeWhenWritten = true
        case .login(let username, let password):
            switch front.login(username: username, password: password, client: session.client) {
            case .success(let accepted):
                reply(session, session.state.loggedIn(accepted))
            case .failure(let refusal) where refusal.delay > .zero:
                session.waiting = true
                let (inbox, descriptor, serial) = (self.inbox, session.descriptor, session.serial)
                Task {
                    try? await Task.sleep(for: refusal.delay)
                    inbox.post(FTPFastCompletion(descriptor: descriptor, serial: serial, outcome: .loginRefused))
                }
            case .failure:
                reply(session, FTPSessionState.loginRefused())
            }
        case .openPassive(let extended):
            openPassive(session, extended: extended)
            if extended { hold(session) }
        case .file(let command, let login):
            perform(command, login: login, on: session)
        case .startTLS, .connectActive:
            break
        }
    }

    func reply(_ session: FTPFastSession, _ reply: FTPReply) {
        session.output.append(contentsOf: reply.wire.utf8)
    }

    /// Sends the replies made so far, then decides what the session waits for.
    func flush(_ session: FTPFastSession) {
        guard !session.closed, !session.held else { return }
        if !session.output.isEmpty {
            let sent = session.output.withUnsafeBytes {
                send(session.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent < 0, errno != EAGAIN, errno != EWOULDBLOCK, errno != EINTR {
                endSession(session)
                return
            }
            session.output.removeFirst(max(sent, 0))
        }
        loop.poll(session.descriptor, forWriting: !session.output.isEmpty, writing: &session.writing)
        guard session.output.isEmpty else { return }
        if session.closeWhenWritten, !session.busy {
            endSession(session)
        } else if session.handingOff {
            handOff(session)
        }
    }

    private func writable(_ session: FTPFastSession) {
        flush(session)
        if !session.closed, !session.writing { process(session) }
    }

    // MARK: Held replies

    /// How long a 229 (the reply to EPSV) is held: `[ftp] epsv_reply_delay_us`, 100 µs by default. curl 7.88
    /// (Debian's) waits a whole second before its data connection when the reply is already there at its first
    /// check after sending EPSV, a few microseconds after the send. Measured with curl fetching 500 files, ten
    /// times: answering at once, 852 of the 5,000 files waited a second; held 50 µs, 1; held 100 µs, none. Phones
    /// and lftp (PASV) have no such wait and lose a tenth of a millisecond per data connection; an administrator's
    /// scripts with Debian's curl would otherwise fetch 3 files a second.
    private var passiveReplyDelay: Duration {
        front.epsvReplyDelay
    }

    /// Holds the session's replies (and its next commands) for ``passiveReplyDelay``.
    private func hold(_ session: FTPFastSession) {
        let delay = passiveReplyDelay
        guard delay > .zero else { return }
        session.held = true
        held.append((ContinuousClock.now + delay, session))
        if held.count == 1 { arm(for: delay) }
    }

    private func arm(for delay: Duration) {
        _ = cepoll_timerfd_arm(timer, max(TimeAmount(delay).nanoseconds, 1))
    }

    /// Sends the held replies that are due, and goes on with those sessions' commands.
    private func releaseHeldReplies() {
        var expirations: UInt64 = 0
        _ = read(timer, &expirations, MemoryLayout<UInt64>.size)
        let now = ContinuousClock.now
        while let first = held.first, first.due <= now {
            held.removeFirst()
            first.session.held = false
            if !first.session.closed { process(first.session) }
        }
        if let first = held.first { arm(for: first.due - now) }
    }
}
#endif
