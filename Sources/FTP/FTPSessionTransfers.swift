import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ProvisioningCore

/// Data connections (passive and active), and the transfers over them: LIST/NLST/MLSD, RETR, STOR.
extension FTPSession {
    // MARK: Data connections

    func openPassive(extended: Bool) async throws {
        await closeDataPlan()
        guard let local = channel.localAddress, let localHost = local.ipAddress else {
            return try await reply(425, "No local address")
        }
        let tls = state.protectData ? configuration.tls : nil
        let limit = configuration.maximumUploadBytes
        for port in server.passivePortsInTurn() {
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
            let advertised = configuration.passiveAddress.isEmpty ? localHost : configuration.passiveAddress
            guard let reply = FTPSessionState.passiveReply(extended: extended, port: port, address: advertised) else {
                await closeDataPlan()
                return try await reply(425, "PASV is IPv4 only; use EPSV")
            }
            return send(reply)
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
            let expiry = listener.channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
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
            let tls = state.protectData ? configuration.tls : nil
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

    func list(_ verb: String, path: String, login: FTPLogin) async throws {
        let started = ContinuousClock.now
        let listing: [FTPEntry]
        let provider = self.provider, client = self.client
        let listed = try? await NIOThreadPool.singleton.runIfActive { provider.list(path: path, login: login, client: client) }
        switch listed ?? .failure(.notFound("No such directory")) {
        case .success(let entries): listing = entries
        case .failure(.notFound) where verb != "MLSD":
            let entry = provider.entry(path: path, login: login, client: client)
            guard let file = FTPSessionState.fileListing(verb: verb, path: path, entry: entry) else {
                return send(FTPSessionState.noSuchFile)
            }
            listing = [file]
        case .failure(let failure):
            await closeDataPlan()
            return try await fail(failure)
        }
        let text = FTPSessionState.listing(listing, verb: verb)
        let sent = try await transfer("\(verb) \(path)") { connection in
            try await connection.send(ByteBuffer(string: text))
        }
        provider.finished(path: path, login: login, client: client, result: sent ? "listed" : "failed",
                                bytes: text.utf8.count, seconds: (ContinuousClock.now - started).seconds)
    }

    func retrieve(_ path: String, offset: Int, login: FTPLogin) async throws {
        let started = ContinuousClock.now
        let file: ByteBuffer
        let answer = switch provider.read(path: path, login: login, client: client) {
        case .answered(let answer): answer
        case .load(let load): await load()
        }
        switch answer {
        case .success(let read): file = read
        case .failure(let failure):
            await closeDataPlan()
            provider.finished(path: path, login: login, client: client, result: failure.result, bytes: 0,
                                    seconds: (ContinuousClock.now - started).seconds)
            return try await fail(failure)
        }
        guard let contents = state.download(file, offset: offset) else {
            await closeDataPlan()
            return send(FTPSessionState.restartBeyondEnd)
        }
        let size = contents.readableBytes
        let sent = try await transfer("\(path) (\(size) bytes)") { connection in
            try await connection.send(contents)
        }
        provider.finished(path: path, login: login, client: client, result: sent ? "ok" : "failed",
                                bytes: sent ? size : 0, seconds: (ContinuousClock.now - started).seconds)
    }

    func store(_ path: String, login: FTPLogin) async throws {
        let started = ContinuousClock.now
        let limit: Int
        switch provider.uploadLimit(path: path, login: login, client: client) {
        case .success(let allowed): limit = allowed
        case .failure(let failure):
            await closeDataPlan()
            provider.finished(path: path, login: login, client: client, result: failure.result, bytes: 0,
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
            provider.finished(path: path, login: login, client: client, result: "too-large", bytes: 0,
                                    seconds: (ContinuousClock.now - started).seconds)
            return try await reply(552, "Upload exceeds \(limit) bytes")
        }
        received = state.upload(received)
        let failure = await provider.write(path: path, contents: received, login: login, client: client)
        provider.finished(path: path, login: login, client: client, result: failure?.result ?? "stored",
                                bytes: received.readableBytes, seconds: (ContinuousClock.now - started).seconds)
        if let failure { return try await fail(failure) }
        try await reply(226, "Transfer complete")
    }
}
