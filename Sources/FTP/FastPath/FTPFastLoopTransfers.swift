#if os(Linux)
import FileService
import FastLoop
import CLinuxShims
import Foundation
import Glibc
import NIOCore
import WireProtocols

/// The fast path's file commands, passive listeners, data connections, and outcomes of work off the loop.
extension FTPFastLoop {
    // MARK: File commands

    func perform(_ command: FTPSessionState.FileCommand, login: FTPLogin, on session: FTPFastSession) {
        let client = session.client
        switch command {
        case .size(let path), .modificationTime(let path), .machineListing(let path), .changeDirectory(let path):
            reply(session, session.state.reply(to: command, entry: front.entry(path: path, login: login, client: client)))
        case .list(let verb, let path):
            list(session, verb: verb, path: path, login: login)
        case .retrieve(let path, let offset):
            let started = ContinuousClock.now
            let load: @Sendable () async -> Result<ByteBuffer, FTPFailure>
            switch front.read(path: path, login: login, client: client) {
            case .answered(let answer):
                retrieve(session, answer, path: path, offset: offset, login: login, started: started)
                return
            case .load(let loading):
                load = loading
            }
            // A large file (firmware) is loaded off the loop.
            session.waiting = true
            let (inbox, descriptor, serial) = (self.inbox, session.descriptor, session.serial)
            Task {
                let answer = await load()
                inbox.post(FTPFastCompletion(descriptor: descriptor, serial: serial, outcome: .loaded(
                    answer, path: path, offset: offset, login: login, started: started)))
            }
        case .store(let path):
            store(session, path: path, login: login)
        }
    }

    private func list(_ session: FTPFastSession, verb: String, path: String, login: FTPLogin) {
        let started = ContinuousClock.now
        let (front, client) = (self.front, session.client)
        let plan = FTPSessionState.list(front.list(path: path, login: login, client: client), verb: verb, path: path) {
            front.entry(path: path, login: login, client: client)
        }
        carryOut(plan, session, path: path, login: login, started: started)
    }

    private func retrieve(_ session: FTPFastSession, _ answer: Result<ByteBuffer, FTPFailure>, path: String,
                          offset: Int, login: FTPLogin, started: ContinuousClock.Instant) {
        carryOut(session.state.retrieve(answer, path: path, offset: offset), session, path: path, login: login,
                 started: started)
    }

    private func store(_ session: FTPFastSession, path: String, login: FTPLogin) {
        let plan = FTPSessionState.store(front.uploadLimit(path: path, login: login, client: session.client), path: path,
                                         serverLimit: configuration.maximumUploadBytes)
        carryOut(plan, session, path: path, login: login, started: .now)
    }

    /// Does what ``FTPSessionState`` planned for a transfer command (the SwiftNIO session does the same).
    private func carryOut(_ plan: FTPTransferPlan, _ session: FTPFastSession, path: String, login: FTPLogin,
                          started: ContinuousClock.Instant) {
        switch plan {
        case .refuse(let answer, let result):
            closeDataPlan(session)
            if let result { record(session, path: path, login: login, result: result, bytes: 0, started: started) }
            reply(session, answer)
        case .send(let bytes, let announce, let result):
            begin(session, FTPFastTransfer(direction: .sending(bytes), path: path, login: login, result: result,
                                           bytes: bytes.readableBytes, started: started), announcing: announce)
        case .receive(let limit, let announce):
            begin(session, FTPFastTransfer(direction: .receiving(ByteBuffer(), limit: limit,
                                                                 reservation: configuration.uploadBudget?.reservation()),
                                           path: path, login: login,
                                           result: .stored, bytes: 0, started: started), announcing: announce)
        }
    }

    func record(_ session: FTPFastSession, path: String, login: FTPLogin, result: RequestResult, bytes: Int,
                started: ContinuousClock.Instant) {
        front.finished(path: path, login: login, client: session.client, result: result, bytes: bytes,
                     seconds: (ContinuousClock.now - started).seconds)
    }

    // MARK: Passive listeners

    func openPassive(_ session: FTPFastSession, extended: Bool) {
        closeDataPlan(session)
        var address = session.local
        let length = socklen_t(Int32(address.ss_family) == AF_INET ? MemoryLayout<sockaddr_in>.size
                                                                   : MemoryLayout<sockaddr_in6>.size)
        for port in server.passivePortsInTurn() {
            FastLoopGroup.setPort(&address, port)
            guard let listener = try? FastLoopGroup.bound(&address, length: length, reusePort: false) else { continue }
            guard listen(listener, 4) == 0 else {
                close(listener)
                continue
            }
            session.passive = listener
            own(listener, .passive(session))
            watch(listener, EPOLLIN.rawValue, operation: EPOLL_CTL_ADD)
            let advertised = configuration.passiveAddress.isEmpty ? session.localHost : configuration.passiveAddress
            guard let answer = FTPSessionState.passiveReply(extended: extended, port: port, address: advertised) else {
                closeDataPlan(session)
                return reply(session, FTPReply(425, "PASV is IPv4 only; use EPSV"))
            }
            return reply(session, answer)
        }
        reply(session, FTPReply(425, "No passive port free"))
    }

    /// Drops the announced data connection: the listener, and a connection the client made but no transfer used.
    func closeDataPlan(_ session: FTPFastSession) {
        if session.passive >= 0 {
            release(session.passive)
            session.passive = -1
        }
        if session.data >= 0 {
            release(session.data)
            session.data = -1
            session.dataWatched = false
        }
    }

    /// The client connected to the passive port: the first connection from its own address is the data connection
    /// (anyone else's is closed: no port theft), and the listener closes.
    func acceptData(_ session: FTPFastSession) {
        while session.passive >= 0, let (descriptor, peer) = loop.acceptOne(session.passive) {
            guard sameHost(FastLoopGroup.numericHost(peer), session.client) else {
                close(descriptor)
                continue
            }
            release(session.passive)
            session.passive = -1
            session.data = descriptor
            own(descriptor, .data(session))
            if session.transfer != nil { startData(session) }
        }
    }

    // MARK: Transfers

    /// Sends the 150, then moves the data as soon as the data connection is there.
    private func begin(_ session: FTPFastSession, _ transfer: FTPFastTransfer, announcing: FTPReply) {
        guard session.passive >= 0 || session.data >= 0 else {
            return reply(session, FTPReply(425, "Use PASV, EPSV, PORT or EPRT first"))
        }
        reply(session, announcing)
        // The 150 leaves before any data.
        flush(session)
        guard !session.closed else { return }
        session.transfer = transfer
        session.dataDeadline = ContinuousClock.now + configuration.dataConnectTimeout
        if session.data >= 0 { startData(session) }
    }

    private func startData(_ session: FTPFastSession) {
        guard let transfer = session.transfer, !session.dataWatched else { return }
        session.lastActive = .now
        switch transfer.direction {
        case .sending:
            watch(session.data, EPOLLOUT.rawValue, operation: EPOLL_CTL_ADD)
        case .receiving, .discarding:
            watch(session.data, EPOLLIN.rawValue | EPOLLRDHUP.rawValue, operation: EPOLL_CTL_ADD)
        }
        session.dataWatched = true
        dataReady(session)
    }

    /// The data connection can move bytes (or failed).
    func dataReady(_ session: FTPFastSession) {
        guard var transfer = session.transfer, session.data >= 0 else { return }
        switch transfer.direction {
        case .sending(var buffer):
            while buffer.readableBytes > 0 {
                let sent = buffer.withUnsafeReadableBytes {
                    send(session.data, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if sent < 0 {
                    if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                        transfer.direction = .sending(buffer)
                        session.transfer = transfer
                        return
                    }
                    return failTransfer(session, FTPReply(426, "Connection closed; transfer aborted"))
                }
                buffer.moveReaderIndex(forwardBy: sent)
                session.lastActive = .now
            }
            finishTransfer(session)
        case .receiving(var collected, let limit, let reservation):
            while true {
                let count = recv(session.data, received.baseAddress, received.count, 0)
                if count > 0 {
                    session.lastActive = .now
                    if collected.readableBytes + count > limit {
                        endTransferData(session)
                        record(session, path: transfer.path, login: transfer.login, result: .tooLarge, bytes: 0,
                               started: transfer.started)
                        reply(session, FTPTransferPlan.tooLarge(limit))
                        return resume(session)
                    }
                    if reservation?.hold(collected.readableBytes + count) == false {
                        reservation?.release()
                        transfer.direction = .discarding(FTPTransferPlan.budgetFull)
                        session.transfer = transfer
                        return dataReady(session)
                    }
                    collected.writeBytes(UnsafeRawBufferPointer(rebasing: received[0..<count]))
                    continue
                }
                if count < 0 {
                    if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                        transfer.direction = .receiving(collected, limit: limit, reservation: reservation)
                        session.transfer = transfer
                        return
                    }
                    return failTransfer(session, FTPReply(426, "Connection closed; transfer aborted"))
                }
                return storeUpload(session, collected, transfer, reservation)
            }
        case .discarding(let answer):
            while true {
                let count = recv(session.data, received.baseAddress, received.count, 0)
                if count > 0 {
                    session.lastActive = .now
                    continue
                }
                if count < 0 {
                    if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                        session.transfer = transfer
                        return
                    }
                    return failTransfer(session, FTPReply(426, "Connection closed; transfer aborted"))
                }
                endTransferData(session)
                record(session, path: transfer.path, login: transfer.login, result: .refused, bytes: 0,
                       started: transfer.started)
                reply(session, answer)
                return resume(session)
            }
        }
    }

    /// The transfer's data connection is done with: closed, and the session has no transfer.
    private func endTransferData(_ session: FTPFastSession) {
        release(session.data)
        session.data = -1
        session.dataWatched = false
        session.transfer = nil
    }

    /// The client has sent the whole upload: it is stored off the loop, and the reply follows.
    private func storeUpload(_ session: FTPFastSession, _ collected: ByteBuffer, _ transfer: FTPFastTransfer,
                             _ reservation: UploadReservation?) {
        endTransferData(session)
        session.waiting = true
        let contents = session.state.upload(collected)
        let (front, inbox, descriptor, serial, client) = (self.front, self.inbox, session.descriptor, session.serial,
                                                          session.client)
        Task {
            let failure = await front.write(path: transfer.path, contents: contents, login: transfer.login, client: client)
            reservation?.release()
            inbox.post(FTPFastCompletion(descriptor: descriptor, serial: serial, outcome: .stored(
                failure, path: transfer.path, bytes: contents.readableBytes, login: transfer.login,
                started: transfer.started)))
        }
    }

    /// Everything was sent: close the data connection (its bytes reach the client before the FIN), then 226.
    private func finishTransfer(_ session: FTPFastSession) {
        guard let transfer = session.transfer else { return }
        endTransferData(session)
        record(session, path: transfer.path, login: transfer.login, result: transfer.result, bytes: transfer.bytes,
               started: transfer.started)
        reply(session, FTPReply(226, "Transfer complete"))
        resume(session)
    }

    /// A transfer that cannot go on: its data connection closes, and the reply says why.
    func failTransfer(_ session: FTPFastSession, _ answer: FTPReply) {
        guard let transfer = session.transfer else { return }
        closeDataPlan(session)
        session.transfer = nil
        record(session, path: transfer.path, login: transfer.login, result: .failed, bytes: 0, started: transfer.started)
        reply(session, answer)
        resume(session)
    }

    /// Back to the session's commands after a transfer or work off the loop.
    private func resume(_ session: FTPFastSession) {
        process(session)
    }

    // MARK: Outcomes of work off the loop

    func complete(_ completion: FTPFastCompletion) {
        guard Int(completion.descriptor) < owners.count, case .control(let session)? = owners[Int(completion.descriptor)],
              session.serial == completion.serial
        else { return }
        session.waiting = false
        switch completion.outcome {
        case .loginRefused:
            reply(session, FTPSessionState.loginRefused())
        case .loaded(let answer, let path, let offset, let login, let started):
            retrieve(session, answer, path: path, offset: offset, login: login, started: started)
        case .stored(let failure, let path, let bytes, let login, let started):
            let (result, answer) = FTPTransferPlan.stored(failure)
            record(session, path: path, login: login, result: result, bytes: bytes, started: started)
            reply(session, answer)
        }
        resume(session)
    }
}
#endif
