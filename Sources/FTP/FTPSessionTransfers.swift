import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ProvisioningCore

/// Data connections (passive and active), and the transfers over them: LIST/NLST/MLSD, RETR, STOR.
extension FTPSession {
    // MARK: Data connections

    func openPassive(extended: Bool, argument: String) async throws {
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
    func closeDataPlan() async {
        let plan = dataPlan
        dataPlan = .none
        if case .passive(let listener) = plan { await FTPSession.discard(listener) }
    }

    /// Closes a passive listener and every connection it accepted.
    static func discard(_ listener: NIOAsyncChannel<DataChannel, Never>) async {
        try? await listener.executeThenClose { inbound in
            listener.channel.close(promise: nil)
            for try await connection in inbound { await connection.close() }
        }
    }

    /// The data connection for a transfer: accepted (passive, from the client's own address only) or made (active).
    func openDataConnection() async throws -> DataChannel? {
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
    func transfer(_ what: String, body: (DataChannel) async throws -> Void) async throws -> Bool {
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

    func list(_ command: FTPCommand, login: FTPLogin) async throws {
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

    func retrieve(_ path: String, login: FTPLogin) async throws {
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

    func store(_ path: String, login: FTPLogin) async throws {
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
