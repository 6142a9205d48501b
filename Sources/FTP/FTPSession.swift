import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ProvisioningCore

/// One data connection: its channel, and what its ``DataLink`` collects. Plain values, so a connection nobody
/// takes (a late or stray one) is simply closed.
struct DataChannel: Sendable {
    let channel: any Channel
    let link: NIOLoopBound<DataLink>
    /// Completes when the client has ended its side (or the connection is gone).
    let ended: EventLoopFuture<Void>

    /// Sends `buffer` and closes. The write completes once the bytes (encrypted, after the TLS handshake, when
    /// PROT P) are with the kernel, which delivers them before the FIN, as vsftpd relies on too. The close is not
    /// awaited: over TLS it waits for the client's close_notify, which the 226 need not.
    func send(_ buffer: ByteBuffer) async throws {
        try await channel.writeAndFlush(buffer)
        channel.close(promise: nil)
    }

    /// Waits until the client has sent everything; nil when it sent more than the limit.
    func receive() async throws -> ByteBuffer? {
        try await ended.get()
        let link = self.link
        let (contents, overflowed) = try await channel.eventLoop.submit { (link.value.collected, link.value.overflowed) }.get()
        try? await channel.close()
        return overflowed ? nil : contents
    }

    func close() async {
        try? await channel.close()
    }
}

/// Collects what arrives on a data connection, up to a limit, and says when the client has finished.
final class DataLink: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    var collected = ByteBuffer()
    var overflowed = false
    let limit: Int
    let ended: EventLoopPromise<Void>
    private var isEnded = false

    init(limit: Int, ended: EventLoopPromise<Void>) {
        self.limit = limit
        self.ended = ended
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !overflowed else { return }
        guard collected.readableBytes + bytes.readableBytes <= limit else {
            overflowed = true
            context.close(promise: nil)
            return
        }
        collected.writeBuffer(&bytes)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            end()
        } else if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func end() {
        guard !isEnded else { return }
        isEnded = true
        ended.succeed(())
    }
}

/// One control connection: its commands, in order, and the data connections they open.
///
/// An actor on the control connection's own event loop, so reading a command and writing its reply need no hop
/// between threads: each file costs three round trips (EPSV, SIZE, RETR), and their latency is what a client feels.
actor FTPSession {
    let server: FTPServer
    nonisolated let channel: any Channel
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let client: String

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        channel.eventLoop.executor.asUnownedSerialExecutor()
    }

    var pendingUser: String?
    var login: FTPLogin?
    var directory = "/"
    var asciiMode = false
    var restartOffset = 0
    var tlsOnControl = false
    var protectData = false
    /// Where the next data connection comes from.
    enum DataPlan {
        case none
        case passive(NIOAsyncChannel<DataChannel, Never>)
        case active(host: String, port: Int)
    }

    var dataPlan = DataPlan.none

    init(server: FTPServer, channel: any Channel, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.server = server
        self.channel = channel
        self.outbound = outbound
        client = channel.remoteAddress?.ipAddress ?? "unknown"
    }

    var configuration: FTPServerConfiguration { server.configuration }
    var provider: any FTPFileProvider { server.provider }

    /// Sends a reply without waiting for it: replies leave in the order they are made, and a command's latency
    /// (three per file: EPSV, SIZE, RETR) is what a client feels.
    func reply(_ code: Int, _ text: String) async throws {
        channel.writeAndFlush(ByteBuffer(string: FTPReply(code, text).wire), promise: nil)
    }

    func run(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>) async throws {
        try await reply(220, "autoprov FTP server ready")
        var pending = ByteBuffer()
        defer { if case .passive(let listener) = dataPlan { Task { await FTPSession.discard(listener) } } }
        for try await chunk in inbound {
            var chunk = chunk
            pending.writeBuffer(&chunk)
            while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let length = newline - pending.readerIndex
                let line = pending.readString(length: length) ?? ""
                pending.moveReaderIndex(forwardBy: 1)
                guard line.utf8.count <= configuration.maximumLineLength else {
                    try await reply(500, "Command line too long")
                    return
                }
                guard try await handle(line) else { return }
            }
            if pending.readableBytes > configuration.maximumLineLength {
                try await reply(500, "Command line too long")
                return
            }
            pending.discardReadBytes()
        }
    }

    /// Carries out one command; false when the session is over.
    private func handle(_ line: String) async throws -> Bool {
        guard let command = FTPCommand(line: line) else {
            try await reply(500, "Syntax error, command unrecognized")
            return true
        }
        let argument = command.argument
        switch command.verb {
        case "QUIT":
            try await reply(221, "Goodbye")
            return false
        case "NOOP": try await reply(200, "OK")
        case "SYST": try await reply(215, "UNIX Type: L8")
        case "FEAT":
            var features = ["EPRT", "EPSV", "MDTM", "MLST type*;size*;modify*;", "PASV", "REST STREAM", "SIZE",
                            "TVFS", "UTF8"]
            if configuration.tls != nil { features += ["AUTH TLS", "PBSZ", "PROT"] }
            try await reply(211, (["Features:"] + features + ["End"]).joined(separator: "\n"))
        case "OPTS":
            let option = argument.uppercased()
            if option == "UTF8 ON" || option == "UTF8" {
                try await reply(200, "UTF8 is always on")
            } else if option.hasPrefix("MLST") {
                try await reply(200, "MLST OPTS type;size;modify;")
            } else {
                try await reply(501, "Option not understood")
            }
        case "AUTH": try await authenticateTLS(argument)
        case "PBSZ":
            guard tlsOnControl else { return try await refuse(503, "Use AUTH TLS first") }
            try await reply(200, "PBSZ=0")
        case "PROT":
            guard tlsOnControl else { return try await refuse(503, "Use AUTH TLS first") }
            switch argument.uppercased() {
            case "P": protectData = true; try await reply(200, "Data connections will be protected")
            case "C": protectData = false; try await reply(200, "Data connections will be clear")
            default: try await reply(504, "Only C and P are supported")
            }
        case "CCC": try await reply(533, "The control connection stays protected")
        case "USER":
            pendingUser = argument
            login = nil
            try await reply(331, "Password required for \(argument)")
        case "PASS":
            guard let user = pendingUser else { return try await refuse(503, "Send USER first") }
            pendingUser = nil
            switch await provider.login(username: user, password: argument, client: client) {
            case .success(let accepted):
                login = accepted
                directory = "/"
                try await reply(230, accepted.isAnonymous ? "Anonymous login, read only" : "Logged in")
            case .failure(let refusal):
                if refusal.delay > .zero { try await Task.sleep(for: refusal.delay) }
                try await reply(530, "Login incorrect")
            }
        case "ACCT": try await reply(202, "No account needed")
        default:
            guard let login else {
                let known = ["PWD", "XPWD", "CWD", "XCWD", "CDUP", "XCUP", "TYPE", "MODE", "STRU", "PASV", "EPSV",
                             "PORT", "EPRT", "LIST", "NLST", "MLSD", "MLST", "SIZE", "MDTM", "RETR", "STOR", "REST",
                             "ABOR"]
                return try await refuse(known.contains(command.verb) ? 530 : 502,
                                        known.contains(command.verb) ? "Please log in with USER and PASS"
                                            : "Command not implemented")
            }
            try await handleLoggedIn(command, login: login)
        }
        return true
    }

    private func refuse(_ code: Int, _ text: String) async throws -> Bool {
        try await reply(code, text)
        return true
    }

    private func handleLoggedIn(_ command: FTPCommand, login: FTPLogin) async throws {
        let argument = command.argument
        switch command.verb {
        case "PWD", "XPWD": try await reply(257, "\(FTPPath.quoted(directory)) is the current directory")
        case "CWD", "XCWD": try await changeDirectory(to: FTPPath.resolve(argument, from: directory), login: login)
        case "CDUP", "XCUP": try await changeDirectory(to: FTPPath.resolve("..", from: directory), login: login)
        case "TYPE":
            switch argument.uppercased() {
            case "A", "A N": asciiMode = true; try await reply(200, "Type set to A")
            case "I", "L 8": asciiMode = false; try await reply(200, "Type set to I")
            default: try await reply(504, "Type not supported")
            }
        case "MODE": try await reply(argument.uppercased() == "S" ? 200 : 504, argument.uppercased() == "S" ? "Mode S" : "Only mode S")
        case "STRU": try await reply(argument.uppercased() == "F" ? 200 : 504, argument.uppercased() == "F" ? "Structure F" : "Only structure F")
        case "PASV", "EPSV": try await openPassive(extended: command.verb == "EPSV", argument: argument)
        case "PORT", "EPRT":
            let target = command.verb == "PORT" ? FTPHostPort.parsePORT(argument) : FTPHostPort.parseEPRT(argument)
            guard let target else { return try await reply(501, "Bad address") }
            // No FTP bounce (RFC 2577 §3): data goes only to the client's own address, and not to a privileged port.
            guard sameHost(target.host, client), target.port >= 1024 else {
                return try await reply(504, "Data connections go only to your own address")
            }
            await closeDataPlan()
            dataPlan = .active(host: target.host, port: target.port)
            try await reply(200, "\(command.verb) command successful")
        case "REST":
            guard let offset = Int(argument), offset >= 0 else { return try await reply(501, "Bad offset") }
            restartOffset = offset
            try await reply(350, "Restarting at \(offset)")
        case "SIZE":
            switch await provider.entry(path: FTPPath.resolve(argument, from: directory), login: login, client: client) {
            case .success(let entry) where !entry.isDirectory: try await reply(213, String(entry.size))
            case .success: try await reply(550, "Not a plain file")
            case .failure(let failure): try await fail(failure)
            }
        case "MDTM":
            switch await provider.entry(path: FTPPath.resolve(argument, from: directory), login: login, client: client) {
            case .success(let entry): try await reply(213, FTPEntry.timestamp(entry.modified))
            case .failure(let failure): try await fail(failure)
            }
        case "MLST":
            let path = FTPPath.resolve(argument, from: directory)
            switch await provider.entry(path: path, login: login, client: client) {
            case .success(var entry):
                entry.name = path
                try await reply(250, "Listing \(path)\n" + entry.machineLine() + "\nEnd")
            case .failure(let failure): try await fail(failure)
            }
        case "LIST", "NLST", "MLSD": try await list(command, login: login)
        case "RETR": try await retrieve(FTPPath.resolve(argument, from: directory), login: login)
        case "STOR": try await store(FTPPath.resolve(argument, from: directory), login: login)
        case "ABOR": try await reply(226, "No transfer in progress")
        default: try await reply(502, "Command not implemented")
        }
    }

    private func fail(_ failure: FTPFailure) async throws {
        switch failure {
        case .notFound(let reason): try await reply(550, reason)
        case .denied(let reason): try await reply(550, reason)
        case .tooLarge(let limit): try await reply(552, "Upload exceeds \(limit) bytes")
        case .failed(let reason): try await reply(451, reason)
        }
    }

    private func changeDirectory(to path: String, login: FTPLogin) async throws {
        if path == "/" {
            directory = path
            return try await reply(250, "Directory changed to /")
        }
        switch await provider.entry(path: path, login: login, client: client) {
        case .success(let entry) where entry.isDirectory:
            directory = path
            try await reply(250, "Directory changed to \(path)")
        case .success: try await reply(550, "Not a directory")
        case .failure(let failure): try await fail(failure)
        }
    }

    // MARK: TLS

    private func authenticateTLS(_ argument: String) async throws {
        guard let tls = configuration.tls else { return try await reply(502, "TLS is not configured") }
        guard ["TLS", "TLS-C", "SSL"].contains(argument.uppercased()) else {
            return try await reply(504, "Only AUTH TLS")
        }
        guard !tlsOnControl else { return try await reply(503, "Already protected") }
        try await reply(234, "Proceed with TLS negotiation")
        // The 234 is already below every handler; TLS starts with the client's next bytes.
        try await channel.eventLoop.submit {
            try self.channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
        }.get()
        tlsOnControl = true
        login = nil
        pendingUser = nil
    }

    // MARK: Data connections

    private func openPassive(extended: Bool, argument: String) async throws {
        await closeDataPlan()
        guard let local = channel.localAddress, let localHost = local.ipAddress else {
            return try await reply(425, "No local address")
        }
        let ports = Array(configuration.passivePorts)
        // Round robin over the range, so a port (and with it a client's address pair, which the kernel keeps in
        // TIME_WAIT for a minute after a transfer) comes back as late as possible.
        let start = server.nextPassivePort.wrappingAdd(1, ordering: .relaxed).oldValue % ports.count
        let tls = protectData ? configuration.tls : nil
        let limit = configuration.maximumUploadBytes
        for step in 0..<ports.count {
            let port = ports[(start + step) % ports.count]
            guard let listener = try? await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 4)
                // Earlier data connections on this port may linger in TIME_WAIT; they must not block a new listener.
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .bind(host: localHost, port: port, childChannelInitializer: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try FTPSession.prepareDataChannel(channel, tls: tls, limit: limit)
                    }
                })
            else { continue }
            dataPlan = .passive(listener)
            if extended {
                try await reply(229, "Entering Extended Passive Mode (|||\(port)|)")
            } else {
                let advertised = configuration.passiveAddress.isEmpty ? localHost : configuration.passiveAddress
                guard !advertised.contains(":") else {
                    await closeDataPlan()
                    return try await reply(425, "PASV is IPv4 only; use EPSV")
                }
                try await reply(227, "Entering Passive Mode (\(FTPHostPort.formatPASV(host: advertised, port: port)))")
            }
            return
        }
        try await reply(425, "No passive port free")
    }

    /// A data connection's pipeline: TLS when PROT P, an idle limit, and the collector.
    static func prepareDataChannel(_ channel: any Channel, tls: NIOSSLContext?, limit: Int) throws -> DataChannel {
        let pipeline = channel.pipeline.syncOperations
        if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
        try pipeline.addHandler(IdleStateHandler(allTimeout: .seconds(60)))
        let ended = channel.eventLoop.makePromise(of: Void.self)
        let link = DataLink(limit: limit, ended: ended)
        try pipeline.addHandler(link)
        return DataChannel(channel: channel, link: NIOLoopBound(link, eventLoop: channel.eventLoop),
                           ended: ended.futureResult)
    }

    /// Drops the announced data connection, closing whatever the client connected meanwhile.
    private func closeDataPlan() async {
        let plan = dataPlan
        dataPlan = .none
        if case .passive(let listener) = plan { await FTPSession.discard(listener) }
    }

    /// Closes a passive listener and every connection it accepted.
    private static func discard(_ listener: NIOAsyncChannel<DataChannel, Never>) async {
        try? await listener.executeThenClose { inbound in
            listener.channel.close(promise: nil)
            for try await connection in inbound { await connection.close() }
        }
    }

    /// The data connection for a transfer: accepted (passive, from the client's own address only) or made (active).
    private func openDataConnection() async throws -> DataChannel? {
        let plan = dataPlan
        dataPlan = .none
        switch plan {
        case .none:
            return nil
        case .passive(let listener):
            let client = self.client
            let timeout = configuration.dataConnectTimeout
            // Without a connection in time, the listener closes and the wait below ends empty.
            let expiry = listener.channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)) {
                listener.channel.close(promise: nil)
            }
            defer { expiry.cancel() }
            return try await listener.executeThenClose { inbound in
                for try await connection in inbound {
                    // Someone else connecting to the announced port gets nothing (port theft). The listener
                    // closes once the client's connection is here; a straggler after it meets the idle limit.
                    if let peer = connection.channel.remoteAddress?.ipAddress, sameHost(peer, client) {
                        return connection
                    }
                    await connection.close()
                }
                return nil
            }
        case .active(let host, let port):
            let tls = protectData ? configuration.tls : nil
            let limit = configuration.maximumUploadBytes
            return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(10))
                .channelOption(.allowRemoteHalfClosure, value: true)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try FTPSession.prepareDataChannel(channel, tls: tls, limit: limit)
                    }
                }
        }
    }

    /// Runs `body` on a data connection, with the 150 before and the 226 (or 425/426) after.
    private func transfer(_ what: String, body: (DataChannel) async throws -> Void) async throws -> Bool {
        if case .none = dataPlan {
            try await reply(425, "Use PASV, EPSV, PORT or EPRT first")
            return false
        }
        try await reply(150, "Opening data connection for \(what)")
        guard let connection = try? await openDataConnection() else {
            try await reply(425, "Cannot open data connection")
            return false
        }
        do {
            try await body(connection)
            try await reply(226, "Transfer complete")
            return true
        } catch {
            await connection.close()
            try await reply(426, "Connection closed; transfer aborted")
            return false
        }
    }

    private func list(_ command: FTPCommand, login: FTPLogin) async throws {
        // LIST takes `ls` options (`-la`) which are ignored; the rest is the path.
        let words = command.argument.split(separator: " ").filter { !$0.hasPrefix("-") }
        let path = FTPPath.resolve(words.joined(separator: " "), from: directory)
        let started = ContinuousClock.now
        let listing: [FTPEntry]
        switch await provider.list(path: path, login: login, client: client) {
        case .success(let entries): listing = entries
        case .failure(.notFound) where command.verb != "MLSD":
            // LIST of a file lists that file (as ls does).
            guard case .success(var entry) = await provider.entry(path: path, login: login, client: client),
                  !entry.isDirectory
            else { return try await reply(550, "No such file or directory") }
            entry.name = command.verb == "NLST" ? path : entry.name
            listing = [entry]
        case .failure(let failure):
            await closeDataPlan()
            return try await fail(failure)
        }
        let now = Date()
        let lines = listing.map { entry in
            switch command.verb {
            case "NLST": entry.name
            case "MLSD": entry.machineLine()
            default: entry.listLine(now: now)
            }
        }
        let text = lines.map { $0 + "\r\n" }.joined()
        let sent = try await transfer("\(command.verb) \(path)") { connection in
            try await connection.send(ByteBuffer(string: text))
        }
        await provider.finished(path: path, login: login, client: client, result: sent ? "listed" : "failed",
                                bytes: text.utf8.count, seconds: (ContinuousClock.now - started).seconds)
    }

    private func retrieve(_ path: String, login: FTPLogin) async throws {
        let offset = restartOffset
        restartOffset = 0
        let started = ContinuousClock.now
        var contents: ByteBuffer
        switch await provider.read(path: path, login: login, client: client) {
        case .success(let file): contents = file
        case .failure(let failure):
            await closeDataPlan()
            await provider.finished(path: path, login: login, client: client, result: failure.result, bytes: 0,
                                    seconds: (ContinuousClock.now - started).seconds)
            return try await fail(failure)
        }
        if asciiMode { contents = FTPSession.toNetworkLines(contents) }
        guard offset <= contents.readableBytes else {
            await closeDataPlan()
            return try await reply(554, "Restart offset beyond the end of the file")
        }
        contents.moveReaderIndex(forwardBy: offset)
        let size = contents.readableBytes
        let sent = try await transfer("\(path) (\(size) bytes)") { connection in
            try await connection.send(contents)
        }
        await provider.finished(path: path, login: login, client: client, result: sent ? "ok" : "failed",
                                bytes: sent ? size : 0, seconds: (ContinuousClock.now - started).seconds)
    }

    private func store(_ path: String, login: FTPLogin) async throws {
        restartOffset = 0
        let started = ContinuousClock.now
        guard !login.isAnonymous else {
            await closeDataPlan()
            return try await reply(550, "Anonymous users cannot upload")
        }
        let limit: Int
        switch provider.uploadLimit(path: path, login: login, client: client) {
        case .success(let allowed): limit = allowed
        case .failure(let failure):
            await closeDataPlan()
            await provider.finished(path: path, login: login, client: client, result: failure.result, bytes: 0,
                                    seconds: (ContinuousClock.now - started).seconds)
            return try await fail(failure)
        }
        var received = ByteBuffer()
        var tooLarge = false
        if case .none = dataPlan { return try await reply(425, "Use PASV, EPSV, PORT or EPRT first") }
        try await reply(150, "Ready to receive \(path)")
        guard let connection = try? await openDataConnection() else {
            return try await reply(425, "Cannot open data connection")
        }
        do {
            if let contents = try await connection.receive() {
                received = contents
            } else {
                tooLarge = true
            }
        } catch {
            await connection.close()
            return try await reply(426, "Connection closed; transfer aborted")
        }
        if tooLarge {
            await provider.finished(path: path, login: login, client: client, result: "too-large", bytes: 0,
                                    seconds: (ContinuousClock.now - started).seconds)
            return try await reply(552, "Upload exceeds \(limit) bytes")
        }
        if asciiMode { received = FTPSession.fromNetworkLines(received) }
        let failure = await provider.write(path: path, contents: received, login: login, client: client)
        await provider.finished(path: path, login: login, client: client, result: failure?.result ?? "stored",
                                bytes: received.readableBytes, seconds: (ContinuousClock.now - started).seconds)
        if let failure { return try await fail(failure) }
        try await reply(226, "Transfer complete")
    }

    /// TYPE A on the wire: every line ends in CRLF (RFC 959 §3.1.1.1).
    static func toNetworkLines(_ buffer: ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(buffer.readableBytes + buffer.readableBytes / 16)
        var previous: UInt8 = 0
        for byte in buffer.readableBytesView {
            if byte == UInt8(ascii: "\n"), previous != UInt8(ascii: "\r") { out.writeInteger(UInt8(ascii: "\r")) }
            out.writeInteger(byte)
            previous = byte
        }
        return out
    }

    /// TYPE A from the wire: CRLF becomes the local LF.
    static func fromNetworkLines(_ buffer: ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        let bytes = Array(buffer.readableBytesView)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\r"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\n") {
                index += 1
                continue
            }
            out.writeInteger(bytes[index])
            index += 1
        }
        return out
    }
}

extension FTPFailure {
    /// The request log's result word.
    var result: String {
        switch self {
        case .notFound: "not-found"
        case .denied: "forbidden"
        case .tooLarge: "too-large"
        case .failed: "failed"
        }
    }
}

/// Whether two textual addresses name the same host (an IPv4 address and its IPv4-mapped IPv6 form match).
func sameHost(_ lhs: String, _ rhs: String) -> Bool {
    func plain(_ address: String) -> String {
        address.lowercased().hasPrefix("::ffff:") ? String(address.dropFirst(7)) : address.lowercased()
    }
    return plain(lhs) == plain(rhs)
}
