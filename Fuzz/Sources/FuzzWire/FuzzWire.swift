import FuzzDriver
import WireProtocols

/// Bytes as the TFTP listeners, the HTTP paths and the FTP control connection read them: parsed as a TFTP
/// datagram (a request's options negotiated, the packet written out and read again to the same packet), scanned as
/// an HTTP request head (whose fields must then lie within the bytes it was given), read as a request target and as
/// an `Authorization` header (Basic and Digest, as the SwiftNIO path reads them), and split into command lines,
/// each parsed as a command, its argument as a path and as PORT and EPRT addresses, as an FTP session does.
@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let buffer = UnsafeRawBufferPointer(start: start, count: count)
    if let packet = try? TFTPPacket(bytes: Array(buffer)) {
        switch packet {
        case .readRequest(let request), .writeRequest(let request):
            _ = try? TFTPNegotiation(options: request.options, transferSize: count)
        default:
            break
        }
        // Written out and read again: the same packet (unless repairing its text made a request too long).
        if let again = try? TFTPPacket(bytes: packet.bytes) { precondition(again == packet, "\(packet) read back as \(again)") }
    }
    if case .request(let head) = HTTPHeadScanner.scan(buffer) {
        precondition(head.length <= count, "a head longer than its bytes")
        precondition(head.contentLength <= HTTPHeadScanner.maximumPutLength, "a PUT body over the fast path's limit")
    }
    // With [limits] head_bytes at its least, a longer head is never the fast path's.
    if case .request(let head) = HTTPHeadScanner.scan(buffer, limit: 1024) {
        precondition(head.length <= 1024, "a head of \(head.length) bytes taken under a limit of 1024")
    }
    // What every HTTP path reads from a head's text itself: the request target's path, and the Authorization header.
    if let text = String(validating: buffer, as: UTF8.self) {
        let path = HTTPRequestTarget.path(of: Substring(text))
        precondition(!path.contains("?") && !path.contains("#"), "a query or fragment left in the path of \(text)")
        if case .basic(let username, _)? = HTTPAuthorization(header: text) {
            precondition(!username.contains(":"), "a colon in a Basic user name")
        }
    }
    for line in buffer.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
        _ = FTPCommand.isAbort(line)
        guard let command = FTPCommand(line: FTPCommand.text(of: line)) else { continue }
        let path = FTPPath.resolve(command.argument, from: "/T46S/")
        precondition(path.hasPrefix("/") && !path.split(separator: "/").contains(".."), "a path out of the root")
        _ = FTPPath.quoted(path)
        _ = FTPHostPort.parsePORT(command.argument)
        _ = FTPHostPort.parseEPRT(command.argument)
    }
    return 0
}

@_cdecl("FuzzWire_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzz_driver(argc, argv, test)
}
