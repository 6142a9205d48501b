import Logging
import NIOCore
import NIOEmbedded
import Testing
@testable import TFTP
import WireProtocols

@Suite("TFTP uploads through the transfer handler (RFC 1350 WRQ)", .timeLimit(.minutes(2)))
struct TFTPUploadTests {
    /// Nothing to read or write: the upload below never reaches the provider (its last block is not sent).
    struct NoFiles: TFTPFileProvider {
        func read(path: String, client: SocketAddress) async -> Result<ByteBuffer, TFTPError> { .failure(.init(code: .fileNotFound, message: "")) }
        func prepareWrite(path: String, client: SocketAddress) async -> Result<Int, TFTPError> { .success(0) }
        func write(path: String, contents: ByteBuffer, client: SocketAddress) async -> TFTPError? { nil }
        func finished(_ summary: TFTPTransferSummary) {}
    }

    @Test("an upload's buffer grows in place: the bytes it moves stay within twice the file (no copy per block)")
    func linearUpload() throws {
        let loop = EmbeddedEventLoop()
        let server = TFTPServer(configuration: TFTPServerConfiguration(host: "127.0.0.1", port: 0), provider: NoFiles(),
                                group: loop, logger: Logger(label: "test"))
        let client = try SocketAddress(ipAddress: "127.0.0.1", port: 9)
        let transfer = TFTPWriteTransfer(negotiation: try TFTPNegotiation(options: [], transferSize: nil),
                                         maximumBytes: 64 << 20)
        let handler = TFTPTransferHandler(state: .write(transfer, netascii: false), client: client, server: server,
                                          request: TFTPRequest(filename: "00156574b150-local.cfg", mode: "octet"),
                                          started: .now)
        let channel = EmbeddedChannel(handler: handler, loop: loop)
        let blocks = 2048  // 1 MiB of full 512-byte blocks
        for block in 1...blocks {
            let packet = [0, 3, UInt8(block >> 8), UInt8(block & 0xFF)] + [UInt8](repeating: UInt8(block & 0xFF), count: 512)
            try channel.writeInbound(AddressedEnvelope(remoteAddress: client, data: ByteBuffer(bytes: packet)))
        }
        guard case .write(let now, _) = handler.state else {
            Issue.record("the transfer ended early: \(String(describing: handler.state))" as Comment)
            return
        }
        #expect(now.received.readableBytes == blocks * 512)
        #expect(now.bytesMoved <= 2 * blocks * 512, "\(now.bytesMoved) bytes moved to receive \(blocks * 512)" as Comment)
        _ = try? channel.finish()
    }
}
