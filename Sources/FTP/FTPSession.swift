import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ProvisioningCore
import WireProtocols

/// One control connection: its commands, in order, and the data connections they open.
///
/// An actor on the control connection's own event loop, so reading a command and writing its reply need no hop
/// between threads: each file costs three round trips (EPSV, SIZE, RETR), and their latency is what a client feels.
actor FTPSession {
    let server: FTPServer
    nonisolated let channel: any Channel
    let client: String

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        channel.eventLoop.executor.asUnownedSerialExecutor()
    }

    var state: FTPSessionState
    /// Where the next data connection comes from.
    enum DataPlan {
        case none
        case passive(NIOAsyncChannel<DataChannel, Never>)
        case active(host: String, port: Int)
    }

    var dataPlan = DataPlan.none
    /// When the connection was accepted: the login deadline counts from here.
    let opened: ContinuousClock.Instant

    init(server: FTPServer, channel: any Channel, state: FTPSessionState = FTPSessionState(),
         opened: ContinuousClock.Instant) {
        self.server = server
        self.channel = channel
        self.state = state
        self.opened = opened
        client = channel.remoteAddress?.ipAddress ?? "unknown"
    }

    var configuration: FTPServerConfiguration { server.configuration }
    var provider: any FTPFileProvider { server.provider }

    /// Sends a reply without waiting for it: replies leave in the order they are made, and a command's latency
    /// (three per file: EPSV, SIZE, RETR) is what a client feels.
    func reply(_ code: Int, _ text: String) async throws {
        send(FTPReply(code, text))
    }

    func send(_ reply: FTPReply) {
        channel.writeAndFlush(ByteBuffer(string: reply.wire), promise: nil)
    }

    /// Reads and answers commands until QUIT or the end of the connection. A session taken over from another
    /// driver was already greeted, and starts with the bytes that driver read but did not answer.
    func run(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, replaying: [UInt8]? = nil) async throws {
        if replaying == nil { try await reply(220, "autoprov FTP server ready") }
        do {
            try await withThrowingTaskGroup { group in
                // Closes the session if it has not logged in by its deadline (S6).
                if state.login == nil {
                    let deadline = opened + configuration.loginTimeout
                    group.addTask {
                        guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
                        await self.loginExpired()
                    }
                }
                defer { group.cancelAll() }
                try await answerCommands(inbound, replaying: replaying)
            }
        } catch {
            await discardPassiveListener()
            throw error
        }
        await discardPassiveListener()
    }

    private func answerCommands(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, replaying: [UInt8]?) async throws {
        var pending = ByteBuffer(bytes: replaying ?? [])
        guard try await handleLines(in: &pending) else { return }
        for try await chunk in inbound {
            var chunk = chunk
            pending.writeBuffer(&chunk)
            guard try await handleLines(in: &pending) else { return }
        }
    }

    /// A passive listener announced but never used closes with the session.
    private func discardPassiveListener() async {
        if case .passive(let listener) = dataPlan {
            dataPlan = .none
            await FTPSession.discard(listener)
        }
    }

    /// Answers the complete lines in `pending`; false when the session is over.
    private func handleLines(in pending: inout ByteBuffer) async throws -> Bool {
        while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - pending.readerIndex
            let line = FTPCommand.text(of: pending.readBytes(length: length) ?? [])
            pending.moveReaderIndex(forwardBy: 1)
            guard line.utf8.count <= configuration.maximumLineLength else {
                try await reply(500, "Command line too long")
                return false
            }
            guard try await handle(line) else { return false }
        }
        if pending.readableBytes > configuration.maximumLineLength {
            try await reply(500, "Command line too long")
            return false
        }
        pending.discardReadBytes()
        return true
    }

    /// Carries out one command; false when the session is over.
    private func handle(_ line: String) async throws -> Bool {
        switch state.action(for: line, tlsAvailable: configuration.tls != nil, client: client) {
        case .reply(let reply):
            send(reply)
        case .quit:
            try await reply(221, "Goodbye")
            return false
        case .login(let username, let password):
            switch provider.login(username: username, password: password, client: client) {
            case .success(let accepted):
                send(state.loggedIn(accepted))
            case .failure(let refusal):
                if refusal.delay > .zero { try await Task.sleep(for: refusal.delay) }
                send(FTPSessionState.loginRefused())
            }
        case .startTLS:
            try await authenticateTLS()
        case .openPassive(let extended):
            try await openPassive(extended: extended)
        case .connectActive(let host, let port, let verb):
            await closeDataPlan()
            dataPlan = .active(host: host, port: port)
            try await reply(200, "\(verb) command successful")
        case .file(let command, let login):
            try await handle(command, login: login)
        }
        return true
    }

    private func loginExpired() {
        guard state.login == nil else { return }
        provider.loginTimedOut(client: client)
        send(FTPReply(421, "Login timed out"))
        channel.close(promise: nil)
    }

    private func handle(_ command: FTPSessionState.FileCommand, login: FTPLogin) async throws {
        switch command {
        case .size(let path), .modificationTime(let path), .machineListing(let path), .changeDirectory(let path):
            let entry = provider.entry(path: path, login: login, client: client)
            send(state.reply(to: command, entry: entry))
        case .list(let verb, let path): try await list(verb, path: path, login: login)
        case .retrieve(let path, let offset): try await retrieve(path, offset: offset, login: login)
        case .store(let path): try await store(path, login: login)
        }
    }

    func fail(_ failure: FTPFailure) async throws {
        send(failure.reply)
    }

    // MARK: TLS

    private func authenticateTLS() async throws {
        guard let tls = configuration.tls else { return try await reply(502, "TLS is not configured") }
        try await reply(234, "Proceed with TLS negotiation")
        // The 234 is already below every handler; TLS starts with the client's next bytes.
        try await channel.eventLoop.submit {
            try self.channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
        }.get()
        state.startedTLS()
    }
}
