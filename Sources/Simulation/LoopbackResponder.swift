#if os(Linux)
import CLinuxShims
import Foundation
import Glibc
import NIOCore
import Synchronization

/// What the ceilings' responders share: a socket on 127.0.0.1 and a port of its own, served by a thread per core
/// until ``close()``. The socket wakes its threads at least every 100 ms, so that they notice.
final class LoopbackResponder: Sendable {
    let socket: Int32
    let port: Int
    private let stopping = Atomic<Bool>(false)
    /// Threads still serving: the last one out closes the socket.
    private let running = Atomic<Int>(System.coreCount)

    var stopped: Bool { stopping.load(ordering: .relaxed) }

    /// `type`: `SOCK_DGRAM`, or `SOCK_STREAM` (then listening); `serve` runs on each thread until ``stopped``.
    init(type: Int32, name: String, serve: @escaping @Sendable (LoopbackResponder) -> Void) throws {
        let socket = Glibc.socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
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
        guard bound, type != Int32(SOCK_STREAM.rawValue) || listen(socket, 4096) == 0 else {
            let code = errno
            Glibc.close(socket)
            throw IOError(errnoCode: code, reason: "bind")
        }
        self.socket = socket
        port = Int(UInt16(bigEndian: address.sin_port))
        var wait = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var size: Int32 = 4 << 20
        setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        for _ in 0..<System.coreCount {
            Thread { [self] in
                clinux_name_thread(name)
                while !stopped { serve(self) }
                if running.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { Glibc.close(socket) }
            }.start()
        }
    }

    func close() {
        stopping.store(true, ordering: .relaxed)
    }
}
#endif
