import NIOCore
import ProvisioningCore
import TFTP
import WireProtocols

/// One TFTP read (RFC 1350) as a phone asks it: octet mode with `blksize 1024` and `tsize 0` (RFC 2348, 2349), from a
/// socket of its own (its transfer ID); an OACK is acknowledged with block 0, each block in turn; the last packet sent
/// is sent again after a second of silence, five times at most, before the attempt counts as failed.
///
/// The transfers run on ``TFTPClientLoops``: epoll threads of the simulator's own, one per core, a plain socket per
/// transfer. (Through a SwiftNIO datagram channel each transfer cost the simulator about twice the server's time: a
/// storm measured the channel, not the server.)
struct TFTPDownload {
    let url: ProvisioningURL

    static let blockSize = 1024
    static let resends = 5

    /// The file's name as sent and the server's address (a name is resolved, blocking), or why there is none.
    static func target(_ url: ProvisioningURL) -> Result<(name: String, server: SocketAddress), ClientFailure> {
        let name = ProvisioningURL.percentDecoded(String(url.requestTarget.drop { $0 == "/" }))
        guard let server = (try? SocketAddress(ipAddress: url.connectHost, port: url.port))
                ?? (try? SocketAddress.makeAddressResolvingHost(url.connectHost, port: url.port)) else {
            return .failure(ClientFailure(reason: "cannot resolve \(url.connectHost)"))
        }
        return .success((name, server))
    }

    /// The transfer, answered when it ends; never blocks (the name is resolved first: an address here).
    func start(on loop: EventLoop) -> EventLoopFuture<PhoneClient.Attempt> {
        let (name, server): (String, SocketAddress)
        switch TFTPDownload.target(url) {
        case .success(let target): (name, server) = target
        case .failure(let failure): return loop.makeSucceededFuture(.failed(failure.reason))
        }
        #if os(Linux)
        guard let loops = TFTPClientLoops.shared else {
            return loop.makeSucceededFuture(.failed("cannot start the TFTP client's threads"))
        }
        let promise = loop.makePromise(of: PhoneClient.Attempt.self)
        loops.start(TFTPClientLoops.Request(server: server, session: TFTPReadSession(name: name)) { promise.succeed($0) })
        return promise.futureResult
        #else
        return loop.makeSucceededFuture(.failed("the simulated phone speaks TFTP on Linux only"))
        #endif
    }
}

/// Why a simulated phone's transfer could not start.
struct ClientFailure: Error {
    var reason: String
}

/// The phone's side of one TFTP read, without the I/O: what to send for each packet received and for each second of
/// silence, and when the transfer is over.
struct TFTPReadSession {
    /// The read request, as first sent.
    let request: [UInt8]
    private(set) var lastSent: [UInt8]
    private(set) var blockSize = 512
    private(set) var expected: UInt16 = 1
    private(set) var received: [UInt8] = []
    private var resends = 0

    init(name: String) {
        var buffer = ByteBuffer()
        TFTPPacket.readRequest(TFTPRequest(filename: name, mode: "octet", options: [
            TFTPOption(name: "blksize", value: "\(TFTPDownload.blockSize)"), TFTPOption(name: "tsize", value: "0"),
        ])).write(into: &buffer)
        request = Array(buffer.readableBytesView)
        lastSent = request
    }

    /// What the phone does next: a packet to send (nil: none), and the transfer's end when it has come.
    struct Step {
        var send: [UInt8]?
        var end: PhoneClient.Attempt?
    }

    /// A datagram from the server (its transfer ID already checked by the caller).
    mutating func receive(_ datagram: ByteBuffer) -> Step {
        guard let packet = try? TFTPPacket(parsing: datagram) else { return Step() }
        switch packet {
        case .optionAcknowledgement(let options) where expected == 1:
            if let size = options.first(where: { $0.0.lowercased() == "blksize" }).flatMap({ Int($0.1) }) { blockSize = size }
            return Step(send: sent(acknowledging: 0))
        case .data(let block, let payload) where block == expected:
            received.append(contentsOf: payload.readableBytesView)
            expected &+= 1
            let acknowledgement = sent(acknowledging: block)
            return Step(send: acknowledgement, end: payload.readableBytes < blockSize ? .found("ok", received) : nil)
        case .data(let block, _) where block == expected &- 1:
            // Our acknowledgement was lost: acknowledge again.
            return Step(send: sent(acknowledging: block))
        case .error(let error):
            return Step(end: error.code == .fileNotFound ? .notFound("not-found")
                        : .refused("error \(error.code.rawValue): \(error.message)"))
        default:
            return Step()
        }
    }

    /// A second passed without an answer: the last packet again, or the end after ``TFTPDownload/resends``.
    mutating func silence() -> Step {
        guard resends < TFTPDownload.resends else { return Step(end: .failed("timeout")) }
        resends += 1
        return Step(send: lastSent)
    }

    private mutating func sent(acknowledging block: UInt16) -> [UInt8] {
        lastSent = [0, 4, UInt8(block >> 8), UInt8(block & 0xff)]
        resends = 0
        return lastSent
    }
}
