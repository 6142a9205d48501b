#if os(Linux)
import CLinuxShims
import Glibc
import Synchronization
import Foundation
import TFTP
import NIOCore

/// The TFTP counterpart of ``NullResponder``: every read request answered at once, error 1 for a boot file, else one
/// DATA block holding the smallest configuration file; options are not negotiated (RFC 2347 lets a server ignore
/// them), and the phone's last ACK is not waited for. Each phone thus makes the legacy sequence (two boot files
/// missing, the common and MAC CFG files), limited by the simulator alone. To cost as little as can be, it answers
/// from its own port (the phone takes the first answer's port as the transfer's, whichever it is) on a thread per
/// core: a new socket per answer, as a server makes, cost it as much as the server it stands in for.
public final class TFTPNullResponder: NullService {
    private let socket: Int32
    private let port: Int
    private let stopping = Atomic<Bool>(false)
    /// Threads still serving: the last one out closes the socket.
    private let running = Atomic<Int>(System.coreCount)
    public var url: String { "tftp://127.0.0.1:\(port)/" }

    static let notFound: [UInt8] = {
        var buffer = ByteBuffer()
        TFTPPacket.error(TFTPError(code: .fileNotFound, message: "file not found")).write(into: &buffer)
        return Array(buffer.readableBytesView)
    }()
    static let file: [UInt8] = [0, 3, 0, 1] + Array("#!version:1.0.0.1\n".utf8)

    public init() throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else {
            let code = errno
            Glibc.close(socket)
            throw IOError(errnoCode: code, reason: "bind")
        }
        self.socket = socket
        port = Int(UInt16(bigEndian: address.sin_port))
        // Woken at least every 100 ms to notice close().
        var wait = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var size: Int32 = 4 << 20
        setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        for _ in 0..<System.coreCount { Thread { [self] in serve() }.start() }
    }

    private func serve() {
        clinux_name_thread("tftp-null")
        var packet = [UInt8](repeating: 0, count: 2048)
        while !stopping.load(ordering: .relaxed) {
            var client = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = withUnsafeMutablePointer(to: &client) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(socket, &packet, packet.count, 0, $0, &length) }
            }
            // Read requests only (opcode 1); the name ends at the first NUL.
            guard count > 2, packet[1] == 1, let end = packet[2..<count].firstIndex(of: 0) else { continue }
            let boot = String(decoding: packet[2..<end], as: UTF8.self).hasSuffix(".boot")
            let answer = boot ? TFTPNullResponder.notFound : TFTPNullResponder.file
            _ = withUnsafePointer(to: &client) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(socket, answer, answer.count, 0, $0, length) }
            }
        }
        if running.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { Glibc.close(socket) }
    }

    public func close() {
        stopping.store(true, ordering: .relaxed)
    }
}
#endif
