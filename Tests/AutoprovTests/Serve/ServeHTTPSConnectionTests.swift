import Foundation
import ProvisioningCore
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
import TestSupport
#endif

@Suite("HTTPS connections over time: head timeouts across keep-alive, and the close after an answer (S6)", .blocking, .serialized, .timeLimit(.minutes(5)))
struct ServeHTTPSConnectionTests {
    static let a = ServeHTTPFastPathTests.a

    /// `openssl s_client` from 127.0.0.2 to the server's HTTPS port, reading `input`, writing to `output` (or nowhere).
    static func tlsClient(port: Int, input: Pipe, output: Pipe?) throws -> Process {
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        client.arguments = ["s_client", "-quiet", "-bind", "127.0.0.2:0", "-connect", "127.0.0.1:\(port)"]
        client.standardInput = input
        client.standardOutput = output ?? FileHandle.nullDevice
        client.standardError = FileHandle.nullDevice
        try Children.start(client)
        return client
    }

    @Test("over TLS, a head dripped a byte at a time after the handshake is closed at the head timeout (openssl s_client)")
    func drippingOverTLS() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a], configuration: "[limits]\nhead_timeout_seconds = 2\n")
        let input = Pipe()
        let client = try Self.tlsClient(port: server.httpsPort, input: input, output: nil)
        defer { client.finish(within: 0) }
        let head = Array("GET /a.cfg HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8) + [UInt8](repeating: 0x61, count: 1000)
        var sent = 0
        // s_client ends when the server closes the connection; until then a byte every 200 ms.
        #expect(eventually(within: 30) {
            if client.isRunning, sent < head.count {
                // Writing to a client that has just exited fails (EPIPE), it does not stop the runner.
                signal(SIGPIPE, SIG_IGN)
                try? input.fileHandleForWriting.write(contentsOf: [head[sent]])
                sent += 1
                usleep(200_000)  // the pace of the drip, not a wait for the server
            }
            return !client.isRunning
        }, "\(sent) bytes dripped")
        #expect(sent < head.count)
        #expect(try server.event("head-timeout") >= 1)
        #expect(try Client.curl(["\(server.https)/a.cfg"]).body == Self.a)
    }

    @Test("over TLS, a connection kept alive across several head timeouts by its requests stays open; a head begun after them and never finished is closed at the head timeout (S6)")
    func keepAliveMovesTheDeadline() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a], configuration: "[limits]\nhead_timeout_seconds = 2\n")
        let input = Pipe(), output = Pipe()
        let received = Mutex<[UInt8]>([])
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            received.withLock { $0 += data }
        }
        let client = try Self.tlsClient(port: server.httpsPort, input: input, output: output)
        defer {
            output.fileHandleForReading.readabilityHandler = nil
            client.finish(within: 0)
        }
        signal(SIGPIPE, SIG_IGN)
        let request = Array("GET /a.cfg HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        func answers() -> Int { received.withLock { responses($0).count } }
        // Twelve requests, each sent once the one before is answered and half a second after it: six seconds on one
        // connection, three head timeouts, every answer in.
        for count in 1...12 {
            try input.fileHandleForWriting.write(contentsOf: request)
            #expect(eventually(within: 10) { answers() >= count }, "answer \(count)")
            usleep(500_000)  // the pace of the requests, not a wait for the server
        }
        #expect(client.isRunning)
        #expect(received.withLock { responses($0) }.allSatisfy { $0.status == 200 && $0.body == Array(Self.a.utf8) })
        // The start of a head, and no more.
        try input.fileHandleForWriting.write(contentsOf: Array("GET /a.cfg HTTP/1.1\r\n".utf8))
        #expect(eventually(within: 30) { !client.isRunning })
        #expect(try server.event("head-timeout") >= 1)
    }

    @Test("over TLS, a connection autoprov ends after its answer is closed soon after its close_notify even when the peer never answers it: before a connection that sends nothing reaches the head timeout (S6)")
    func closeNotifyWait() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a], configuration: "[limits]\nhead_timeout_seconds = 2\n")
        // A client that reads the answer and autoprov's close_notify, then stays silent with its socket open, and
        // says when the server's FIN arrives.
        let script = """
            import os, socket, ssl, sys
            context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
            connection = context.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
            connection.sendall(b"GET /a.cfg HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n")
            answer = b""
            while True:
                try:
                    chunk = connection.recv(65536)
                except ssl.SSLZeroReturnError:
                    break
                if not chunk:
                    break
                answer += chunk
            print("answered" if b"a = 1" in answer else "no answer", flush=True)
            os.read(connection.fileno(), 1)
            print("closed", flush=True)
            """
        let output = Pipe()
        let said = Mutex("")
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            said.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        client.arguments = ["-c", script, "\(server.httpsPort)"]
        client.standardOutput = output
        client.standardError = FileHandle.nullDevice
        // Opened first, so that its head timeout runs out first unless the closed connection goes quickly.
        let idle = RawConnection(port: server.httpsPort, source: "127.0.0.2")
        try Children.start(client)
        defer {
            output.fileHandleForReading.readabilityHandler = nil
            client.finish(within: 0)
        }
        #expect(eventually(within: 30) { said.withLock { $0.contains("closed") } || idle.closedByPeer })
        #expect(said.withLock { $0 } == "answered\nclosed\n")
        #expect(!idle.closedByPeer, "the head timeout came before the silent peer's connection was closed")
        #expect(eventually(within: 30) { idle.closedByPeer })
    }
}
