import FileService
import Logging
import NIOCore
import NIOPosix
import ProvisioningCore
import ServiceLifecycle
import Synchronization
import WireProtocols

/// Where a TFTP server's files come from and go to; the provisioning server's file service implements it.
public protocol TFTPFileProvider: Sendable {
    /// The file's bytes for a read request, or the error to send (1 not found, 2 access violation).
    func read(path: String, client: SocketAddress) async -> Result<ByteBuffer, TFTPError>
    /// Whether a write of this name is allowed, and how many bytes it may have.
    func prepareWrite(path: String, client: SocketAddress) async -> Result<Int, TFTPError>
    /// The same answer as ``read(path:client:)`` when it can be had at once on the calling thread (a small file, or a
    /// refusal), else nil: the file is then read with ``read(path:client:)``, off the caller's thread.
    func readNow(path: String, client: SocketAddress) -> Result<ByteBuffer, TFTPError>?
    /// Stores a completed upload; an error is sent to the client instead of the last ACK.
    func write(path: String, contents: ByteBuffer, client: SocketAddress) async -> TFTPError?
    /// Told once per request when it is over, on the thread that ends it: it records, and must not block.
    func finished(_ summary: TFTPTransferSummary)
}

extension TFTPFileProvider {
    public func readNow(path: String, client: SocketAddress) -> Result<ByteBuffer, TFTPError>? { nil }
}

/// One finished request, for the request log.
public struct TFTPTransferSummary: Sendable {
    public var path: String
    public var isWrite: Bool
    public var client: SocketAddress
    public var result: TFTPTransferResult
    public var seconds: Double
    /// The error sent when the request was refused outright.
    public var refusal: TFTPError?
}

/// Settings of the TFTP listener.
public struct TFTPServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var limits = TFTPNegotiation.Limits()
    /// Retransmissions before a silent client is dropped.
    public var maximumRetries = 5
    /// How long shutdown waits for transfers in flight.
    public var drainSeconds: Int64 = 10
    /// Requests answered at once (each transfer holds a socket); more are dropped, and clients retry (S6).
    public var maximumTransfers = 4096
    /// The same for one client address, so that one client cannot take every socket. Phones behind one NAT
    /// address share it: a few hundred booting at once are served in turns as their retries come in.
    public var maximumTransfersPerClient = 256
    /// Where uploads being received are held, with every other protocol's (`[limits] upload_mb`; S6).
    public var uploadBudget: UploadBudget?

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

/// A TFTP server (RFC 1350, 2347, 2348, 2349, 7440): requests on one port, each transfer on its own port.
public final class TFTPServer: Service, Sendable {
    let configuration: TFTPServerConfiguration
    let provider: any TFTPFileProvider
    let group: any EventLoopGroup
    let logger: Logger
    let inFlight = Mutex<[ObjectIdentifier: any Channel]>([:])
    /// Times a transfer waited in vain for its client; each is followed by a retransmission or by giving up.
    public let timeouts = Atomic<Int>(0)
    /// Requests being answered, by client: a retransmitted request is not a second transfer.
    private let admitted = Mutex<TFTPAdmissions>(TFTPAdmissions())
    /// Requests dropped because a limit was reached.
    public let requestsDropped = Atomic<Int>(0)
    private let ready: EventLoopPromise<SocketAddress>
    /// The listener's address with port 0: where each transfer's socket is bound (resolved once, not per transfer).
    fileprivate let transferAddress = Mutex<SocketAddress?>(nil)
    private let readyResolved = Atomic<Bool>(false)

    /// A server that never ran (built for a test of its transfers, say) still completes its promise.
    struct NeverRan: Error {}

    public init(configuration: TFTPServerConfiguration, provider: any TFTPFileProvider,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.configuration = configuration
        self.provider = provider
        self.group = group
        self.logger = logger
        ready = group.next().makePromise()
    }

    deinit {
        if !readyResolved.load(ordering: .relaxed) { ready.fail(NeverRan()) }
    }

    /// The address the listener is bound to, once it is.
    public var localAddress: SocketAddress {
        get async throws { try await ready.futureResult.get() }
    }

    /// Number of transfers in flight.
    public var transfersInFlight: Int { inFlight.withLock { $0.count } + fastTransfers.load(ordering: .relaxed) }
    /// Transfers on the epoll fast path (``TFTPFastPath``).
    let fastTransfers = Atomic<Int>(0)

    public func run() async throws {
        #if os(Linux)
        try await runWithFastPath()
        #else
        try await runOnSwiftNIO()
        #endif
    }

    #if os(Linux)
    /// Read requests for files at hand answered on ``TFTPFastPath``'s epoll loops, the rest (uploads, netascii, files
    /// to load first) handed to ``answer(_:key:)`` on SwiftNIO.
    private func runWithFastPath() async throws {
        let fastPath: TFTPFastPath
        do {
            fastPath = try TFTPFastPath(host: configuration.host, port: configuration.port, threads: System.coreCount)
        } catch {
            readyResolved.store(true, ordering: .relaxed)
            ready.fail(error)
            throw error
        }
        var transfers = fastPath.address
        transfers.port = 0
        transferAddress.withLock { $0 = transfers }
        fastPath.start(server: self)
        readyResolved.store(true, ordering: .relaxed)
        ready.succeed(fastPath.address)
        logger.info("TFTP listening", metadata: ["tftp.address": "\(fastPath.address)"])
        await fastPath.runUntilShutdown(drainSeconds: configuration.drainSeconds)
        await drainTransfers()
    }
    #endif

    private func runOnSwiftNIO() async throws {
        let channel: any Channel
        do {
            // No SO_REUSEADDR: on UDP it let a second server bind the same port and silently share its requests.
            channel = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(TFTPRequestHandler(server: self))
                    }
                }
                .bind(host: configuration.host, port: configuration.port).get()
        } catch {
            readyResolved.store(true, ordering: .relaxed)
            ready.fail(error)
            throw error
        }
        readyResolved.store(true, ordering: .relaxed)
        var transfers = channel.localAddress!
        transfers.port = 0
        transferAddress.withLock { $0 = transfers }
        ready.succeed(channel.localAddress!)
        logger.info("TFTP listening", metadata: ["tftp.address": "\(channel.localAddress!)"])
        // Closed at graceful shutdown, and at once when the task is cancelled (another listener failed): a server
        // that waited only for the shutdown signal kept the process alive, and deaf to SIGTERM, after a failure.
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                try? await channel.closeFuture.get()
            } onGracefulShutdown: {
                channel.close(promise: nil)
            }
        } onCancel: {
            channel.close(promise: nil)
        }
        await drainTransfers()
    }

    /// Lets transfers in flight on SwiftNIO finish, within bounds (not when cancelled), then closes the rest.
    private func drainTransfers() async {
        let deadline = ContinuousClock.now + .seconds(configuration.drainSeconds)
        while transfersInFlight > 0, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for open in inFlight.withLock({ Array($0.values) }) { open.close(promise: nil) }
    }

    /// Handles one RRQ or WRQ: asks the provider, then runs the transfer on a new port. A request already being
    /// answered (the client's retransmission) is not answered again, and one over the limits is dropped.
    func handle(_ packet: TFTPPacket, from client: SocketAddress) {
        let (request, isWrite): (TFTPRequest, Bool)
        switch packet {
        case .readRequest(let value): (request, isWrite) = (value, false)
        case .writeRequest(let value): (request, isWrite) = (value, true)
        default: return
        }
        let key = TFTPAdmissions.Key(client: client, isWrite: isWrite, filename: request.filename)
        guard admit(key) else { return }
        answer(request, key: key)
    }

    /// Whether a request starts a transfer: not when it is one already running (a retransmission), nor over the
    /// limits (dropped, counted, logged now and then). An admitted request is released when its transfer ends.
    func admit(_ key: TFTPAdmissions.Key) -> Bool {
        switch admitted.withLock({ $0.admit(key, limit: configuration.maximumTransfers,
                                            perClient: configuration.maximumTransfersPerClient) }) {
        case .admitted:
            return true
        case .duplicate:
            return false
        case .overLimit:
            let dropped = requestsDropped.add(1, ordering: .relaxed).newValue
            if dropped == 1 || dropped.isMultiple(of: 1000) {
                logger.notice("TFTP requests dropped: too many transfers in flight",
                              metadata: ["tftp.client": "\(key.client)", "tftp.dropped": "\(dropped)"])
            }
            return false
        }
    }

    func release(_ key: TFTPAdmissions.Key) {
        admitted.withLock { $0.release(key) }
    }

    /// Answers an admitted request in a task: asks the provider, then runs the transfer on a new port.
    func answer(_ request: TFTPRequest, key: TFTPAdmissions.Key) {
        let (client, isWrite) = (key.client, key.isWrite)
        Task {
            // Released when the transfer's socket closes, or here when no transfer started.
            var handedOver = false
            defer { if !handedOver { self.admitted.withLock { $0.release(key) } } }
            let started = ContinuousClock.now
            func refuse(_ error: TFTPError) async {
                var buffer = ByteBufferAllocator().buffer(capacity: error.message.utf8.count + 5)
                TFTPPacket.error(error).write(into: &buffer)
                // RFC 1350: errors for a request come from a new TID too; here the request port is fine for clients.
                _ = try? await self.sendOnce(buffer, to: client)
                self.provider.finished(TFTPTransferSummary(
                    path: request.filename, isWrite: isWrite, client: client,
                    result: .failed(error.message, bytes: 0), seconds: (ContinuousClock.now - started).seconds,
                    refusal: error))
            }
            guard request.mode == "octet" || request.mode == "netascii" else {
                await refuse(TFTPError(code: .illegalOperation, message: "mode \(request.mode) not supported"))
                return
            }
            let netascii = request.mode == "netascii"
            do {
                if isWrite {
                    let maximum = try await provider.prepareWrite(path: request.filename, client: client).get()
                    let reservation = configuration.uploadBudget?.reservation()
                    if let size = request.options.first(where: { $0.name == "tsize" }).flatMap({ Int($0.value) }) {
                        if size > maximum {
                            throw TFTPError(code: .diskFull, message: "upload of \(size) bytes exceeds \(maximum)")
                        }
                        // A declared size is held at once: past the budget the phone hears so before it sends.
                        if reservation?.hold(size) == false { throw TFTPWriteTransfer.budgetFull }
                    }
                    let negotiation = try TFTPNegotiation(options: request.options, transferSize: nil,
                                                          limits: configuration.limits)
                    let transfer = TFTPWriteTransfer(negotiation: negotiation, maximumBytes: maximum,
                                                     maximumRetries: configuration.maximumRetries,
                                                     reservation: reservation)
                    try await startTransfer(.write(transfer, netascii: netascii), request: request, key: key,
                                            started: started)
                    handedOver = true
                } else {
                    var contents = try await provider.read(path: request.filename, client: client).get()
                    if netascii { contents = Netascii.encode(contents) }
                    let negotiation = try TFTPNegotiation(options: request.options, transferSize: contents.readableBytes,
                                                          limits: configuration.limits)
                    let transfer = TFTPReadTransfer(payload: contents, negotiation: negotiation,
                                                    maximumRetries: configuration.maximumRetries)
                    try await startTransfer(.read(transfer), request: request, key: key, started: started)
                    handedOver = true
                }
            } catch let error as TFTPError {
                await refuse(error)
            } catch {
                logger.warning("TFTP transfer could not start", metadata: ["tftp.error": "\(error)"])
                await refuse(TFTPError(code: .notDefined, message: "server error"))
            }
        }
    }

    /// Runs a transfer on a socket of its own; its admission is released when that socket closes.
    private func startTransfer(_ state: TFTPTransferHandler.State, request: TFTPRequest, key: TFTPAdmissions.Key,
                               started: ContinuousClock.Instant) async throws {
        let client = key.client
        // A write transfer reads DATA of the negotiated block size whole (up to 65,464 + 4); NIO reads 2,048 bytes by
        // default and cut larger packets, which the transfer then took for the last, short block. A read transfer
        // only receives ACKs and errors.
        let readSize: Int
        switch state {
        // One byte over the block: a DATA packet longer than negotiated is seen, and refused, not cut to fit.
        case .write(let transfer, _): readSize = max(transfer.negotiation.blockSize + 5, 2048)
        default: readSize = 2048
        }
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: readSize))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = TFTPTransferHandler(state: state, client: client, server: self, request: request,
                                                      started: started)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .bindTransfer(self).get()
        let id = ObjectIdentifier(channel)
        inFlight.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in
            _ = self.inFlight.withLock { $0.removeValue(forKey: id) }
            self.admitted.withLock { $0.release(key) }
        }
        channel.pipeline.fireUserInboundEventTriggered(TFTPTransferHandler.Start())
    }

    /// Sends one datagram from a fresh port (for refusals).
    private func sendOnce(_ buffer: ByteBuffer, to client: SocketAddress) async throws {
        let channel = try await DatagramBootstrap(group: group).bindTransfer(self).get()
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: client, data: buffer))
        try await channel.close()
    }
}

extension DatagramBootstrap {
    /// A transfer's socket: a new port on the listener's address (by name only when the server never ran).
    fileprivate func bindTransfer(_ server: TFTPServer) -> EventLoopFuture<any Channel> {
        if let address = server.transferAddress.withLock({ $0 }) { return bind(to: address) }
        return bind(host: server.configuration.host, port: 0)
    }
}

/// The requests being answered: a retransmitted RRQ or WRQ (same client address and port, same name and kind) is
/// the transfer already running, and the limits count transfers in all and by client host.
struct TFTPAdmissions {
    struct Key: Hashable {
        var client: SocketAddress
        var isWrite: Bool
        var filename: String
    }

    enum Verdict { case admitted, duplicate, overLimit }

    private var active: Set<Key> = []
    private var byHost: [String: Int] = [:]

    mutating func admit(_ key: Key, limit: Int, perClient: Int) -> Verdict {
        if active.contains(key) { return .duplicate }
        let host = key.client.ipAddress ?? ""
        guard active.count < limit, byHost[host, default: 0] < perClient else { return .overLimit }
        active.insert(key)
        byHost[host, default: 0] += 1
        return .admitted
    }

    mutating func release(_ key: Key) {
        guard active.remove(key) != nil else { return }
        let host = key.client.ipAddress ?? ""
        byHost[host, default: 1] -= 1
        if byHost[host] == 0 { byHost[host] = nil }
    }
}
