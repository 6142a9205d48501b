import FileService
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ProvisioningCore
import WireProtocols

/// Data connections (passive and active), and the transfers over them: LIST/NLST/MLSD, RETR, STOR.
extension FTPSession {
    // MARK: Data connections

    func openPassive(extended: Bool) async throws {
        await closeDataPlan()
        guard let local = channel.localAddress, let localHost = local.ipAddress else {
            return try await reply(425, "No local address")
        }
        let tls = state.protectData ? configuration.tls : nil
        let (limit, budget) = (configuration.maximumUploadBytes, configuration.uploadBudget)
        for port in server.passivePortsInTurn() {
            guard let listener = try? await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 4)
                // Earlier data connections on this port may linger in TIME_WAIT; they must not block a new listener.
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .bind(host: localHost, port: port, childChannelInitializer: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try FTPSession.prepareDataChannel(channel, tls: tls, limit: limit, budget: budget)
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
    static func prepareDataChannel(_ channel: any Channel, tls: NIOSSLContext?, limit: Int,
                                   budget: UploadBudget?) throws -> DataChannel {
        let pipeline = channel.pipeline.syncOperations
        if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
        try pipeline.addHandler(IdleStateHandler(allTimeout: .seconds(60)))
        let ended = channel.eventLoop.makePromise(of: Void.self)
        let link = DataLink(limit: limit, reservation: budget?.reservation(), ended: ended)
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
            let (limit, budget) = (configuration.maximumUploadBytes, configuration.uploadBudget)
            return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(10))
                .channelOption(.allowRemoteHalfClosure, value: true)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try FTPSession.prepareDataChannel(channel, tls: tls, limit: limit, budget: budget)
                    }
                }
        }
    }

    /// Runs `body` on a data connection, with `announce` (150) before and the 226 (or 425/426) after.
    func transfer(_ announce: FTPReply, body: (DataChannel) async throws -> Void) async throws -> Bool {
        if case .none = dataPlan {
            try await reply(425, "Use PASV, EPSV, PORT or EPRT first")
            return false
        }
        send(announce)
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
        let provider = self.provider, client = self.client
        // A directory read: off the event loop.
        let listed = try? await NIOThreadPool.singleton.runIfActive { provider.list(path: path, login: login, client: client) }
        let plan = FTPSessionState.list(listed ?? .failure(.notFound("No such directory")), verb: verb, path: path) {
            provider.entry(path: path, login: login, client: client)
        }
        try await carryOut(plan, path: path, login: login, started: started)
    }

    func retrieve(_ path: String, offset: Int, login: FTPLogin) async throws {
        let started = ContinuousClock.now
        let answer = switch provider.read(path: path, login: login, client: client) {
        case .answered(let answer): answer
        case .load(let load): await load()
        }
        try await carryOut(state.retrieve(answer, path: path, offset: offset), path: path, login: login, started: started)
    }

    func store(_ path: String, login: FTPLogin) async throws {
        let started = ContinuousClock.now
        let plan = FTPSessionState.store(provider.uploadLimit(path: path, login: login, client: client), path: path,
                                         serverLimit: configuration.maximumUploadBytes)
        try await carryOut(plan, path: path, login: login, started: started)
    }

    /// Does what ``FTPSessionState`` planned for a transfer command (the epoll loop does the same).
    private func carryOut(_ plan: FTPTransferPlan, path: String, login: FTPLogin,
                          started: ContinuousClock.Instant) async throws {
        switch plan {
        case .refuse(let answer, let result):
            await closeDataPlan()
            if let result { record(path: path, login: login, result: result, bytes: 0, started: started) }
            send(answer)
        case .send(let bytes, let announce, let result):
            let sent = try await transfer(announce) { connection in try await connection.send(bytes) }
            record(path: path, login: login, result: sent ? result : .failed, bytes: sent ? bytes.readableBytes : 0,
                   started: started)
        case .receive(let limit, let announce):
            try await receive(path: path, login: login, limit: limit, announce: announce, started: started)
        }
    }

    private func receive(path: String, login: FTPLogin, limit: Int, announce: FTPReply,
                         started: ContinuousClock.Instant) async throws {
        if case .none = dataPlan { return try await reply(425, "Use PASV, EPSV, PORT or EPRT first") }
        send(announce)
        guard let connection = try? await openDataConnection() else {
            return try await reply(425, "Cannot open data connection")
        }
        let received: DataChannel.Received
        do {
            received = try await connection.receive()
        } catch {
            await connection.close()
            return try await reply(426, "Connection closed; transfer aborted")
        }
        let whole: ByteBuffer
        let reservation: UploadReservation?
        switch received {
        case .whole(let contents, let held) where contents.readableBytes <= limit:
            (whole, reservation) = (contents, held)
        case .whole, .tooLarge:
            record(path: path, login: login, result: .tooLarge, bytes: 0, started: started)
            return send(FTPTransferPlan.tooLarge(limit))
        case .budgetFull:
            record(path: path, login: login, result: .refused, bytes: 0, started: started)
            return send(FTPTransferPlan.budgetFull)
        }
        let contents = state.upload(whole)
        let failure = await provider.write(path: path, contents: contents, login: login, client: client)
        reservation?.release()
        let (result, answer) = FTPTransferPlan.stored(failure)
        record(path: path, login: login, result: result, bytes: contents.readableBytes, started: started)
        send(answer)
    }

    private func record(path: String, login: FTPLogin, result: RequestResult, bytes: Int, started: ContinuousClock.Instant) {
        provider.finished(path: path, login: login, client: client, result: result, bytes: bytes,
                          seconds: (ContinuousClock.now - started).seconds)
    }
}
