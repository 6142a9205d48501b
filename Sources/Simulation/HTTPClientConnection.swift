#if os(Linux)
import CLinuxShims
import Glibc
import NIOCore

/// One plain HTTP exchange on a non-blocking TCP connection of its own, as a phone makes it (`Connection: close`), for
/// a thread that polls it: connect, write the request, read the response to its end (``HTTPResponseReader``).
struct HTTPClientConnection {
    let socket: Int32
    private let request: [UInt8]
    private var written = 0
    private var reader = HTTPResponseReader()
    /// When the attempt counts as failed (`timeout`).
    let deadline: ContinuousClock.Instant

    /// Whether the request is still (partly) to be written: the socket is polled for writing until it is not.
    var writing: Bool { written < request.count }

    enum Progress {
        case pending
        case answered(HTTPExchange.Answer)
        case failed(String)
    }

    /// Opens the socket and starts connecting.
    static func start(to address: SocketAddress, request: [UInt8], timeout: Duration) -> Result<Self, ClientFailure> {
        let opened: (socket: Int32, address: sockaddr_storage, length: socklen_t)
        switch ClientSocket.open(Int32(SOCK_STREAM.rawValue), to: address) {
        case .success(let socket): opened = socket
        case .failure(let failure): return .failure(failure)
        }
        var (descriptor, storage, length) = (opened.socket, opened.address, opened.length)
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let status = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, length) }
        }
        if status != 0, errno != EINPROGRESS {
            let code = errno
            close(descriptor)
            return .failure(ClientFailure(reason: HTTPClientConnection.describe(code)))
        }
        return .success(HTTPClientConnection(socket: descriptor, request: request, deadline: .now + timeout))
    }

    /// The socket is writable (or failed): the connection's outcome is checked, and the request goes out.
    mutating func writable() -> Progress {
        if written == 0 {
            var code: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(socket, SOL_SOCKET, SO_ERROR, &code, &size)
            if code != 0 { return .failed(HTTPClientConnection.describe(code)) }
        }
        while written < request.count {
            let count = request.withUnsafeBytes { bytes in
                send(socket, bytes.baseAddress! + written, bytes.count - written, Int32(MSG_NOSIGNAL))
            }
            if count < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return .pending }
                return .failed(HTTPClientConnection.describe(errno))
            }
            written += count
        }
        return .pending
    }

    /// The socket is readable: what came, and the response once it has ended.
    mutating func readable(into scratch: inout [UInt8]) -> Progress {
        while true {
            let count = scratch.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                let state = scratch.withUnsafeBytes { reader.append(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
                switch state {
                case .incomplete: continue
                case .complete(let answer): return .answered(answer)
                case .malformed(let reason): return .failed(reason)
                }
            }
            if count < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return .pending }
                if errno != ECONNRESET { return .failed(HTTPClientConnection.describe(errno)) }
            }
            // The end of the connection (or a reset after the response): a body read to the end is complete.
            switch reader.finish() {
            case .complete(let answer): return .answered(answer)
            case .malformed(let reason): return .failed(count < 0 ? HTTPClientConnection.describe(errno) : reason)
            case .incomplete: return .failed("connection closed")
            }
        }
    }

    static func describe(_ code: Int32) -> String {
        switch code {
        case ECONNREFUSED: "connection refused"
        case ETIMEDOUT: "timeout"
        case ECONNRESET: "connection reset"
        default: String(cString: strerror(code))
        }
    }
}
#endif
