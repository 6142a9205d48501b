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
    private let responder: LoopbackResponder
    public var url: String { "http://127.0.0.1:\(responder.port)/" }

    static let notFound = Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
    static let file = Array(("HTTP/1.1 200 OK\r\nContent-Length: 18\r\nConnection: close\r\n\r\n"
        + "#!version:1.0.0.1\n").utf8)

    public init() throws {
        responder = try LoopbackResponder(type: Int32(SOCK_STREAM.rawValue), name: "http-null", serve: HTTPNullResponder.answer)
    }

    /// One connection: its request head read, the answer written, the connection closed.
    private static func answer(_ responder: LoopbackResponder) {
        let connection = accept(responder.socket, nil, nil)
        guard connection >= 0 else { return }
        defer { Glibc.close(connection) }
        // A connection that sends nothing for a second is given up (it holds this thread meanwhile).
        var patience = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &patience, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 8192)
        var count = 0
        // The request head: up to its blank line (the fleet's phones send no body to this responder).
        while count < buffer.count {
            let read = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress! + count, $0.count - count, 0) }
            guard read > 0 else { break }
            count += read
            if count >= 4, buffer[..<count].suffix(4).elementsEqual([13, 10, 13, 10]) { break }
        }
        guard let space = buffer[..<count].firstIndex(of: 32), let end = buffer[(space + 1)..<count].firstIndex(of: 32)
        else { return }
        let boot = String(decoding: buffer[(space + 1)..<end], as: UTF8.self).hasSuffix(".boot")
        let answer = boot ? HTTPNullResponder.notFound : HTTPNullResponder.file
        _ = answer.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    public func close() {
        responder.close()
    }
}
#endif
