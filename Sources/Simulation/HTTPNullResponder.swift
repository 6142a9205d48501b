#if os(Linux)
import CLinuxShims
import Foundation
import Glibc
import NIOCore
import Synchronization

/// ``NullResponder`` on plain sockets, a thread per core: each connection accepted, its request head read, the
/// answer written at once (404 for a boot file, else the smallest configuration file) and the connection closed.
/// Through SwiftNIO the responder cost about as much per request as the servers it stands in for, so a ceiling
/// measured against it said little.
public final class HTTPNullResponder: NullService {
    private let socket: Int32
    private let port: Int
    private let stopping = Atomic<Bool>(false)
    /// Threads still serving: the last one out closes the socket.
    private let running = Atomic<Int>(System.coreCount)
    public var url: String { "http://127.0.0.1:\(port)/" }

    static let notFound = Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
    static let file = Array(("HTTP/1.1 200 OK\r\nContent-Length: 18\r\nConnection: close\r\n\r\n"
        + "#!version:1.0.0.1\n").utf8)

    public init() throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
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
        guard bound, listen(socket, 4096) == 0 else {
            let code = errno
            Glibc.close(socket)
            throw IOError(errnoCode: code, reason: "bind")
        }
        self.socket = socket
        port = Int(UInt16(bigEndian: address.sin_port))
        // accept() wakes at least every 100 ms to notice close().
        var wait = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        for _ in 0..<System.coreCount { Thread { [self] in serve() }.start() }
    }

    private func serve() {
        clinux_name_thread("http-null")
        var buffer = [UInt8](repeating: 0, count: 8192)
        // A connection that sends nothing for a second is given up (it holds this thread meanwhile).
        var patience = timeval(tv_sec: 1, tv_usec: 0)
        while !stopping.load(ordering: .relaxed) {
            let connection = accept(socket, nil, nil)
            guard connection >= 0 else { continue }
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &patience, socklen_t(MemoryLayout<timeval>.size))
            var count = 0
            // The request head: up to its blank line (the fleet's phones send no body to this responder).
            while count < buffer.count {
                let read = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress! + count, $0.count - count, 0) }
                guard read > 0 else { break }
                count += read
                if count >= 4, buffer[..<count].suffix(4).elementsEqual([13, 10, 13, 10]) { break }
            }
            if let space = buffer[..<count].firstIndex(of: 32),
               let end = buffer[(space + 1)..<count].firstIndex(of: 32) {
                let boot = String(decoding: buffer[(space + 1)..<end], as: UTF8.self).hasSuffix(".boot")
                let answer = boot ? HTTPNullResponder.notFound : HTTPNullResponder.file
                _ = answer.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
            Glibc.close(connection)
        }
        if running.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { Glibc.close(socket) }
    }

    public func close() {
        stopping.store(true, ordering: .relaxed)
    }
}
#endif
