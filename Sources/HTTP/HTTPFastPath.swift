#if os(Linux)
import FastLoop
import FileService
import CLinuxShims
import Glibc
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Foundation
import WireProtocols

/// Plain HTTP GETs and HEADs answered on one epoll loop per core, below SwiftNIO's channel pipeline.
///
/// Why it exists: on these machines a SwiftNIO server that answers every request with the same bytes and does
/// nothing else reaches about half of nginx's requests per second, while a plain epoll loop reaches about one and a
/// half times (`docs/BENCHMARKS.md`). A phone fleet's HTTP traffic is almost all small GETs, so those take this path.
///
/// Each loop accepts from its own listening socket on the shared address (`SO_REUSEPORT`), reads request heads with
/// ``HTTPHeadScanner`` and answers what ``FileService/decide(_:readingUpTo:)`` answers: files (small ones read from
/// disk on the spot, as nginx does), 304, ranges, 403, 404 and 401 challenges. Everything else (PUT, requests with
/// credentials, `/metrics`, a large file not yet in memory, anything the scanner does not accept) hands the connection,
/// with the bytes already read, to the SwiftNIO pipeline of ``HTTPServer``, which keeps it from then on. The rules
/// stay in ``FileService`` on both paths; responses on one connection stay in request order.
final class HTTPFastPath: Sendable {
    private let loops: FastLoopGroup
    private let service: FileService
    private let limits: HTTPLimits
    private let logger: Logger
    private let handOff: @Sendable (Int32, [UInt8]) -> Void

    var address: SocketAddress { loops.address }

    /// A connection that sends nothing for this long is closed (nginx's `keepalive_timeout` is 75 s).
    static let idleTimeout: Duration = .seconds(60)
    /// Connections a loop accepts per wakeup (its own socket's queue, so a storm is taken in quickly).
    static let acceptsPerWakeup = 64

    /// Binds the listening sockets (so that a failure, such as a privileged port, is reported before anything runs).
    init(host: String, port: Int, threads: Int, service: FileService, limits: HTTPLimits, logger: Logger,
         handOff: @escaping @Sendable (Int32, [UInt8]) -> Void) throws {
        loops = try FastLoopGroup(host: host, port: port, threads: threads)
        self.service = service
        self.limits = limits
        self.logger = logger
        self.handOff = handOff
    }

    /// Starts one thread per loop.
    func start() {
        let (service, limits, logger, handOff) = (self.service, self.limits, self.logger, self.handOff)
        loops.start(threadName: "autoprov-http") { listenSocket, control in
            HTTPFastLoop(listenSocket: listenSocket, control: control, service: service, limits: limits, logger: logger, handOff: handOff)
                .run()
        }
    }

    /// Runs until shutdown, letting connections finish for at most `drainSeconds` (see ``FastLoopGroup``).
    func runUntilShutdown(drainSeconds: Int64) async {
        await loops.runUntilShutdown(drainSeconds: drainSeconds)
    }
}

#endif
