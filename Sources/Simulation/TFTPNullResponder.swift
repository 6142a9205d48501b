#if os(Linux)
import CLinuxShims
import Glibc
import Synchronization
import Foundation
import TFTP
import NIOCore
import WireProtocols

/// The TFTP counterpart of ``NullResponder``: every read request answered at once, error 1 for a boot file, else one
/// DATA block holding the smallest configuration file; options are not negotiated (RFC 2347 lets a server ignore
/// them), and the phone's last ACK is not waited for. Each phone thus makes the legacy sequence (two boot files
/// missing, the common and MAC CFG files), limited by the simulator alone. To cost as little as can be, it answers
/// from its own port (the phone takes the first answer's port as the transfer's, whichever it is) on a thread per
/// core: a new socket per answer, as a server makes, cost it as much as the server it stands in for.
public final class TFTPNullResponder: NullService {
    private let responder: LoopbackResponder
    public var url: String { "tftp://127.0.0.1:\(responder.port)/" }

    static let notFound: [UInt8] = {
        var buffer = ByteBuffer()
        TFTPPacket.error(TFTPError(code: .fileNotFound, message: "file not found")).write(into: &buffer)
        return Array(buffer.readableBytesView)
    }()
    static let file: [UInt8] = [0, 3, 0, 1] + Array("#!version:1.0.0.1\n".utf8)

    public init() throws {
        responder = try LoopbackResponder(type: Int32(SOCK_DGRAM.rawValue), name: "tftp-null", serve: TFTPNullResponder.answer)
    }

    /// One datagram: a read request is answered.
    private static func answer(_ responder: LoopbackResponder) {
        var packet = [UInt8](repeating: 0, count: 2048)
        var client = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let count = withUnsafeMutablePointer(to: &client) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(responder.socket, &packet, packet.count, 0, $0, &length) }
        }
        // Read requests only (opcode 1); the name ends at the first NUL.
        guard count > 2, packet[1] == 1, let end = packet[2..<count].firstIndex(of: 0) else { return }
        let boot = String(decoding: packet[2..<end], as: UTF8.self).hasSuffix(".boot")
        let answer = boot ? TFTPNullResponder.notFound : TFTPNullResponder.file
        _ = withUnsafePointer(to: &client) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(responder.socket, answer, answer.count, 0, $0, length) }
        }
    }

    public func close() {
        responder.close()
    }
}
#endif
