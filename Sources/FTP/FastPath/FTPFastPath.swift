#if os(Linux)
import FastLoop
import FileService
import CLinuxShims
import Glibc
import Logging
import NIOCore
import Synchronization
import WireProtocols

/// Plain FTP sessions on one epoll loop per core, below SwiftNIO, as ``HTTPFastPath`` does for HTTP.
///
/// Why it exists: a phone (or `curl`) fetching files over one control connection waits for three replies per file
/// (EPSV, SIZE, RETR) and a data connection, so a session's speed is the latency of each reply. Through SwiftNIO's
/// channels and Swift concurrency a reply cost about 76 µs of CPU here, and one session ran at 0.7× vsftpd's pace;
/// on an epoll loop that owns the control connection, its passive listener and its data connection, a reply is a
/// `recv` and a `send`.
///
/// The commands are decided by ``FTPSessionState`` (the same as on the SwiftNIO path) and the files come from
/// ``FileService`` through ``FTPFrontEnd``, so the rules are the same on both paths. The loop hands a session, with
/// its state and the bytes it has not answered, to ``FTPServer`` (SwiftNIO) for `AUTH TLS` and for active data
/// connections (`PORT`, `EPRT`), which are rare; work that may wait (a delayed 530, loading a large file, storing
/// an upload) runs as a task that posts its outcome back to the loop.
public final class FTPFastPath: Sendable {
    private let loops: FastLoopGroup
    private let server: FTPServer
    private let front: FTPFrontEnd
    private let logger: Logger

    public var address: SocketAddress { loops.address }

    /// Binds the listening sockets (so that a failure, such as a privileged port, is reported before anything runs).
    public init(host: String, port: Int, threads: Int, server: FTPServer, front: FTPFrontEnd, logger: Logger) throws {
        loops = try FastLoopGroup(host: host, port: port, threads: threads)
        self.server = server
        self.front = front
        self.logger = logger
    }

    public func start() {
        let (server, front, logger) = (self.server, self.front, self.logger)
        loops.start(threadName: "autoprov-ftp") { listenSocket, control in
            FTPFastLoop(listenSocket: listenSocket, inbox: FTPFastInbox(control: control), server: server, front: front,
                        logger: logger).run()
        }
    }

    /// Runs until shutdown, letting connections finish for at most `drainSeconds` (see ``FastLoopGroup``).
    public func runUntilShutdown(drainSeconds: Int64) async {
        await loops.runUntilShutdown(drainSeconds: drainSeconds)
    }
}

/// One control connection owned by a loop, with its passive listener and data connection.
final class FTPFastSession {
    let descriptor: Int32
    /// Tells this session from a later one on the same descriptor, for outcomes posted back to the loop.
    let serial: UInt64
    let client: String
    /// The control connection's local address: passive listeners bind to it.
    let local: sockaddr_storage
    let localHost: String
    var state = FTPSessionState()
    /// Bytes of commands not answered yet.
    var input: [UInt8] = []
    /// Reply bytes the socket has not taken yet.
    var output: [UInt8] = []
    /// Waiting for the control socket to take ``output`` (polled for writing, not reading).
    var writing = false
    var closeWhenWritten = false
    /// Once ``output`` is written, the session goes to the SwiftNIO server with ``input``.
    var handingOff = false
    var passive: Int32 = -1
    var data: Int32 = -1
    var dataWatched = false
    var transfer: FTPFastTransfer?
    /// Waiting for work off the loop (a delayed 530, a large file's load, an upload being stored).
    var waiting = false
    /// A 229 is held back for a moment (``FTPFastLoop/passiveReplyDelay``).
    var held = false
    var closed = false
    var lastActive: ContinuousClock.Instant
    /// When the control connection was accepted: a session has the head timeout to log in.
    let opened: ContinuousClock.Instant
    /// When a transfer that waits for its data connection gives up.
    var dataDeadline: ContinuousClock.Instant?

    init(descriptor: Int32, serial: UInt64, client: String, local: sockaddr_storage, now: ContinuousClock.Instant) {
        self.descriptor = descriptor
        self.serial = serial
        self.client = client
        self.local = local
        localHost = FastLoopGroup.numericHost(local)
        lastActive = now
        opened = now
    }

    /// Not reading commands: a transfer or work off the loop is under way, or a reply is held.
    var busy: Bool { transfer != nil || waiting || held }
}

/// A RETR, LIST or STOR under way on a session's data connection.
struct FTPFastTransfer {
    enum Direction {
        /// What is left to send.
        case sending(ByteBuffer)
        /// What has arrived, the most that may, and its share of the server's upload budget.
        case receiving(ByteBuffer, limit: Int, reservation: UploadReservation?)
        /// An upload refused while it arrives (the upload budget is full): the rest is read and dropped, and this
        /// reply follows once the client has sent it all, so that a client still sending sees the reply, not a
        /// reset connection.
        case discarding(FTPReply)
    }

    var direction: Direction
    let path: String
    let login: FTPLogin
    /// The request log's result word when it succeeds.
    let result: RequestResult
    /// What a download sends in all.
    let bytes: Int
    let started: ContinuousClock.Instant
}

/// The outcome of work a loop started off its thread, posted back to it.
struct FTPFastCompletion: Sendable {
    enum Outcome: Sendable {
        /// The refused login's delay is over: 530.
        case loginRefused
        /// A file too large to read on the loop, loaded.
        case loaded(Result<ByteBuffer, FTPFailure>, path: String, offset: Int, login: FTPLogin,
                    started: ContinuousClock.Instant)
        /// An upload stored (nil) or refused.
        case stored(FTPFailure?, path: String, bytes: Int, login: FTPLogin, started: ContinuousClock.Instant)
    }

    let descriptor: Int32
    let serial: UInt64
    let outcome: Outcome
}

/// Where tasks leave their outcomes for an FTP loop.
typealias FTPFastInbox = LoopInbox<FTPFastCompletion>
#endif
