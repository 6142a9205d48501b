import Foundation
#if canImport(Glibc)
import Glibc
import TestSupport
#endif

/// A TCP connection to the server, driven byte by byte when a test needs it.
final class RawConnection {
    let descriptor: Int32
    /// False when the connection was refused (nothing listens any more).
    private(set) var connected = false

    /// Connects to 127.0.0.1:`port`, from `source` (another loopback address, say) when given.
    init(port: Int, timeoutSeconds: Int = 5, source: String? = nil) {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if let source { bindLocal(descriptor, to: source) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }

    deinit { close(descriptor) }

    /// Ends the connection both ways now (the descriptor is closed with the object).
    func shutDown() {
        shutdown(descriptor, Int32(SHUT_RDWR))
    }

    func send(_ text: String) {
        send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until the server closes or the timeout passes.
    /// True once the server has closed its end (a read would return end of file, or the connection was reset).
    var closedByPeer: Bool {
        var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&ready, 1, 0) == 1 else { return false }
        var byte: UInt8 = 0
        return recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) <= 0
    }

    /// Takes what has arrived, without waiting; `ended` once the server has closed its end (all of it read).
    func takeAvailable() -> (bytes: [UInt8], ended: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 {
                received += buffer.prefix(count)
            } else {
                return (received, count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            }
        }
    }

    func readAll() -> [UInt8] {
        receiveUntilClosed(descriptor)
    }

    /// Reads until `count` bytes have arrived (or the server closes, or the timeout passes).
    func read(atLeast count: Int) -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while received.count < count {
            let got = recv(descriptor, &buffer, buffer.count, 0)
            if got <= 0 { break }
            received += buffer.prefix(got)
        }
        return received
    }
}

/// The responses in a byte stream, in order: status code, headers, body (by Content-Length).
func responses(_ bytes: [UInt8], headRequests: Set<Int> = []) -> [(status: Int, headers: String, body: [UInt8])] {
    var result: [(Int, String, [UInt8])] = []
    var offset = 0
    let separator: [UInt8] = [13, 10, 13, 10]
    while offset < bytes.count {
        guard let end = (offset...(bytes.count - 4)).first(where: { Array(bytes[$0..<($0 + 4)]) == separator }) else { break }
        let head = String(decoding: bytes[offset..<end], as: UTF8.self)
        let status = Int(head.dropFirst(9).prefix(3)) ?? 0
        let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) } ?? 0
        let bodyLength = headRequests.contains(result.count) || status == 304 ? 0 : length
        let bodyStart = end + 4
        let bodyEnd = min(bodyStart + bodyLength, bytes.count)
        result.append((status, head, Array(bytes[bodyStart..<bodyEnd])))
        offset = bodyEnd
    }
    return result
}

/// Everything a socket receives until its peer closes it (or its receive timeout passes).
func receiveUntilClosed(_ descriptor: Int32) -> [UInt8] {
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = recv(descriptor, &buffer, buffer.count, 0)
        if count <= 0 { break }
        received += buffer.prefix(count)
    }
    return received
}
