import Foundation
import ProvisioningCore
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
import TestSupport
#endif

@Suite("HTTP: cached GETs and small uploads on the epoll path, everything else handed to the full server", .blocking, .serialized, .timeLimit(.minutes(5)))
struct ServeHTTPFastPathTests {
    static let a = "#!version:1.0.0.1\na = 1\n"
    static let b = "#!version:1.0.0.1\nb = 2\n"

    @Test("pipelined GET, PUT, GET, HEAD, 304 and 404 on one connection: answered in order, the PUT's body intact (S3, S4)")
    func handOffMidPipeline() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a, "b.cfg": Self.b])
        let etag = "\"5ae234aa0fcbee5d52ae1b7a68f0c88c\""  // md5sum of b
        let connection = RawConnection(port: server.httpPort)
        connection.send("GET /a.cfg HTTP/1.1\r\nHost: x\r\n\r\n"
            + "PUT /001565000001-local.cfg HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
            + "GET /b.cfg HTTP/1.1\r\nHost: x\r\n\r\n"
            + "GET /001565000001-local.cfg HTTP/1.1\r\nHost: x\r\n\r\n"
            + "HEAD /a.cfg HTTP/1.1\r\nHost: x\r\n\r\n"
            + "GET /b.cfg HTTP/1.1\r\nHost: x\r\nIf-None-Match: \(etag)\r\n\r\n"
            + "GET /missing.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let answers = responses(connection.readAll(), headRequests: [4])
        #expect(answers.map(\.status) == [200, 201, 200, 200, 200, 304, 404])
        guard answers.count == 7 else { return }
        #expect(answers[0].body == Array(Self.a.utf8))
        #expect(answers[2].body == Array(Self.b.utf8))
        #expect(answers[3].body == Array("hello".utf8))
        #expect(answers[4].headers.lowercased().contains("content-length: \(Self.a.utf8.count)"))
        #expect(answers[6].headers.lowercased().contains("connection: close"))
        #expect(server.stop() == 0)
    }

    @Test("over TLS too: pipelined GET, PUT, GET, 304, 404 and a close, in order (openssl s_client)")
    func pipelineOverTLS() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a, "b.cfg": Self.b])
        let etag = "\"10313c10cf47c43ee3da7eac37bbb57d\""  // md5sum of a
        let requests = "GET /a.cfg HTTP/1.1\r\nHost: x\r\n\r\n"
            + "PUT /001565000003-local.cfg HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nmine"
            + "GET /b.cfg HTTP/1.1\r\nHost: x\r\n\r\n"
            + "GET /a.cfg HTTP/1.1\r\nHost: x\r\nIf-None-Match: \(etag)\r\n\r\n"
            + "GET /missing.cfg HTTP/1.1\r\nHost: x\r\n\r\n"
            + "GET /001565000003-local.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        let result = try Client.run("openssl", ["s_client", "-quiet", "-connect", "127.0.0.1:\(server.httpsPort)"],
                                    input: requests)
        let answers = responses(Array(result.stdout.utf8))
        #expect(answers.map(\.status) == [200, 201, 200, 304, 404, 200], "\(result.stdout.prefix(400))")
        guard answers.count == 6 else { return }
        #expect(answers[0].body == Array(Self.a.utf8))
        #expect(answers[2].body == Array(Self.b.utf8))
        #expect(answers[5].body == Array("mine".utf8))
        // A PUT the quick path may not take (a name no pattern allows) is answered by the full path, as before.
        let refused = try Client.run("openssl", ["s_client", "-quiet", "-connect", "127.0.0.1:\(server.httpsPort)"],
                                     input: "PUT /evil.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
        #expect(responses(Array(refused.stdout.utf8)).map(\.status) == [403], "\(refused.stdout.prefix(200))")
        #expect(server.stop() == 0)
        let log = try CommandRunner.run(["log", "--data", server.data.path, "--limit", "20"])
        #expect(log.stdout.components(separatedBy: "https").count - 1 == 7, "\(log.stdout)")
    }

    @Test("a phone's way, a connection per file with `Connection: close`: a file and a miss answered and closed, nothing after them read, over HTTP and TLS")
    func closeAfterEachAnswer() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a, "b.cfg": Self.b])
        let etag = "\"10313c10cf47c43ee3da7eac37bbb57d\""  // md5sum of a
        let after = "GET /b.cfg HTTP/1.1\r\nHost: x\r\n\r\n"
        for (path, status, body) in [("/a.cfg", 200, Self.a), ("/missing.cfg", 404, "")] {
            let request = "GET \(path) HTTP/1.1\r\nHost: x\r\nUser-Agent: Yealink SIP-T46S 66.86.0.15 00:15:65:00:00:09\r\n"
                + "Connection: close\r\n\r\n"
            let connection = RawConnection(port: server.httpPort)
            connection.send(request + after)
            let plain = responses(connection.readAll())
            let tls = try Client.run("openssl", ["s_client", "-quiet", "-connect", "127.0.0.1:\(server.httpsPort)"],
                                     input: request + after, timeout: 30)
            for answers in [plain, responses(Array(tls.stdout.utf8))] {
                // One answer: the request after the close is not read (the server closed, s_client returned).
                #expect(answers.map(\.status) == [status], "\(path): \(answers.map(\.headers))")
                guard let answer = answers.first else { continue }
                #expect(answer.headers.hasSuffix("Connection: close"), "\(answer.headers)")
                #expect(answer.body == Array(body.utf8))
                #expect(answer.headers.lowercased().contains("content-length: \(body.utf8.count)"))
                if status == 200 { #expect(answer.headers.contains("ETag: \(etag)")) }
            }
        }
        #expect(server.stop() == 0)
        let log = try CommandRunner.run(["log", "--data", server.data.path, "--limit", "20"])
        #expect(log.stdout.components(separatedBy: "001565000009").count - 1 == 4, "\(log.stdout)")
    }

    @Test("the same requests in the other order: cached GETs after the connection was handed over still work")
    func cachedAfterHandOff() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a, "b.cfg": Self.b])
        let connection = RawConnection(port: server.httpPort)
        connection.send("PUT /001565000002-local.cfg HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        let first = responses(connection.read(atLeast: 20))
        #expect(first.first?.status == 201)
        connection.send("GET /a.cfg HTTP/1.1\r\nHost: x\r\n\r\nGET /b.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let answers = responses(connection.readAll())
        #expect(answers.map(\.status) == [200, 200])
        #expect(answers.last?.body == Array(Self.b.utf8))
    }

    @Test("a head that arrives a byte at a time, and one split across many reads, is answered once")
    func slowHead() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a])
        let connection = RawConnection(port: server.httpPort)
        let request = "GET /a.cfg?x=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: Yealink SIP-T46U 108.86.0.20 00:15:65:00:00:07\r\n\r\n"
        for byte in request.utf8 {
            connection.send(String(decoding: [byte], as: UTF8.self))
            usleep(500)
        }
        let answer = responses(connection.read(atLeast: 100 + Self.a.utf8.count))
        #expect(answer.count == 1)
        #expect(answer.first?.status == 200)
        #expect(answer.first?.body == Array(Self.a.utf8))
        #expect(server.stop() == 0)
        let devices = try CommandRunner.run(["devices", "--data", server.data.path])
        #expect(devices.stdout.contains("001565000007"), "\(devices.stdout)")
    }

    @Test("a PUT whose body arrives in pieces is stored once and whole; the GET behind it waits for it (S4)")
    func uploadInPieces() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a])
        let connection = RawConnection(port: server.httpPort)
        let body = "#!version:1.0.0.1\nlang.gui = English\n" + String(repeating: "#", count: 3000) + "\n"
        let request = "PUT /001565000008-local.cfg HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
            + body + "GET /001565000008-local.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        let bytes = Array(request.utf8)
        for start in stride(from: 0, to: bytes.count, by: 700) {
            connection.send(Array(bytes[start..<min(start + 700, bytes.count)]))
            usleep(2000)  // separate reads on the server, not a wait for it
        }
        let answers = responses(connection.readAll())
        #expect(answers.map(\.status) == [201, 200])
        #expect(answers.last?.body == Array(body.utf8))
        #expect(server.stop() == 0)
        let stored = try String(contentsOf: server.data.appendingPathComponent("uploads/001565000008-local.cfg"), encoding: .utf8)
        #expect(stored == body)
    }

    @Test("a PUT whose body never finishes is closed at the head timeout and stores nothing (S4, S6)")
    func unfinishedUpload() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a], configuration: "[limits]\nhead_timeout_seconds = 2\n")
        let connection = RawConnection(port: server.httpPort, source: "127.0.0.2")
        connection.send("PUT /001565000009-local.cfg HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n#!version:1.0.0.1\n")
        #expect(eventually(within: 30) { connection.closedByPeer })
        #expect(try server.event("head-timeout") >= 1)
        let other = RawConnection(port: server.httpPort, source: "127.0.0.3")
        other.send("GET /a.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(String(decoding: other.readAll(), as: UTF8.self).hasSuffix(Self.a))
        #expect(server.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: server.data.appendingPathComponent("uploads/001565000009-local.cfg").path))
    }

    @Test("a head that never ends, or never starts, is closed after the head timeout; another address is served")
    func overdueHeads() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a], configuration: "[limits]\nhead_timeout_seconds = 2\n")
        let silent = RawConnection(port: server.httpPort, source: "127.0.0.2")
        let dripping = RawConnection(port: server.httpPort, source: "127.0.0.2")
        let head = Array("GET /a.cfg HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8) + [UInt8](repeating: 0x61, count: 1000)
        // A byte every 200 ms keeps the idle timer (60 s) from firing, but not the head timer; polled generously.
        var sent = 0
        #expect(eventually(within: 30) {
            if !dripping.closedByPeer, sent < head.count {
                dripping.send([head[sent]])
                sent += 1
                usleep(200_000)  // the pace of the drip, not a wait for the server
            }
            return dripping.closedByPeer && silent.closedByPeer
        }, "\(sent) bytes dripped")
        #expect(sent < head.count)
        #expect(try server.event("head-timeout") >= 2)
        // Meanwhile and afterwards another address is served at once.
        let other = RawConnection(port: server.httpPort, source: "127.0.0.3")
        other.send("GET /a.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(String(decoding: other.readAll(), as: UTF8.self).hasSuffix(Self.a))
    }

    @Test("[limits] head_bytes: a longer head gets 431 and the connection closes, finished or not, on the fast path, the full path and over TLS; a body is not a head; shorter heads are served (S6, RFC 6585 §5)")
    func headBytes() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a], configuration: "[limits]\nhead_bytes = 2048\n")
        let pad = { (count: Int) in "X-Pad: " + String(repeating: "p", count: count) + "\r\n" }
        // Within the limit, on both paths (Transfer-Encoding goes to the full one): served.
        let within = RawConnection(port: server.httpPort)
        within.send("GET /a.cfg HTTP/1.1\r\nHost: x\r\n\(pad(1500))\r\n"
            + "PUT /001565000010-local.cfg HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\(pad(1500))\r\n"
            + "2710\r\n" + String(repeating: "#", count: 10_000) + "\r\n0\r\n\r\n"
            + "GET /a.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\(pad(1500))\r\n")
        #expect(responses(within.readAll()).map(\.status) == [200, 201, 200])
        // A whole head past it, and one that never ends, each on the fast path's port and handed over mid-connection.
        for (index, head) in ["GET /a.cfg HTTP/1.1\r\nHost: x\r\n\(pad(3000))\r\n",
                              "GET /a.cfg HTTP/1.1\r\nHost: x\r\n\(pad(3000))"].enumerated() {
            let connection = RawConnection(port: server.httpPort)
            connection.send(head)
            let answer = String(decoding: connection.readAll(), as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 431 ") && connection.closedByPeer, "head \(index): \(answer)")
            let afterHandOff = RawConnection(port: server.httpPort)
            afterHandOff.send("GET /a.cfg HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + head)
            let statuses = responses(afterHandOff.readAll()).map(\.status)
            #expect(statuses == [200, 431], "head \(index) after a hand-over: \(statuses)")
        }
        // Over TLS, with curl: the same.
        let long = try Client.curl(["-H", "X-Pad: " + String(repeating: "p", count: 3000), "\(server.https)/a.cfg"])
        #expect(long.status == 431)
        let short = try Client.curl(["-H", "X-Pad: " + String(repeating: "p", count: 1500), "\(server.https)/a.cfg"])
        #expect(short.status == 200 && short.body == Self.a)
        #expect(try server.event("head-too-long") == 5)
        #expect(server.stop() == 0)
    }

    @Test("5,000 half-open connections (heads never finished, from two addresses) starve no one: a phone is served over HTTP and HTTPS while all of them are held")
    func halfOpenConnections() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a], configuration: "[limits]\nhead_timeout_seconds = 120\n")
        let half = "GET /a.cfg HTTP/1.1\r\nHost: x\r\nUser-Agent: slow"
        var held: [RawConnection] = []
        for index in 0..<5_000 {
            let connection = RawConnection(port: server.httpPort, source: index % 2 == 0 ? "127.0.0.2" : "127.0.0.3")
            connection.send(half)
            held.append(connection)
        }
        #expect(eventually { TCPTable.established(localPort: server.httpPort) >= 5_000 },
                "\(TCPTable.established(localPort: server.httpPort)) established")
        // A phone from elsewhere, over HTTP and HTTPS, while all 5,000 are held.
        for _ in 0..<20 {
            let phone = RawConnection(port: server.httpPort, source: "127.0.0.4")
            phone.send("GET /a.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(String(decoding: phone.readAll(), as: UTF8.self).hasSuffix(Self.a))
        }
        let tls = try Client.curl(["\(server.https)/a.cfg"])
        #expect(tls.status == 200 && tls.body == Self.a)
        // All 5,000 were still held while the phone was served (their closing at the head timeout is tested above).
        #expect(held.allSatisfy { !$0.closedByPeer }, "\(held.filter(\.closedByPeer).count) closed")
        #expect(try server.event("connection-refused") == 0)
        #expect(server.stop() == 0)
    }

    /// `count` idle connections to `port` from `source`.
    static func hold(_ count: Int, _ port: Int, from source: String) -> [RawConnection] {
        (0..<count).map { _ in RawConnection(port: port, source: source) }
    }

    /// Connections established with the server's HTTP and HTTPS listeners.
    static func established(_ server: ServerProcess) -> Int {
        TCPTable.established(localPort: server.httpPort) + TCPTable.established(localPort: server.httpsPort)
    }

    /// Whether a GET of a.cfg from `source` is answered with it.
    static func served(_ server: ServerProcess, from source: String) -> Bool {
        let connection = RawConnection(port: server.httpPort, source: source)
        connection.send("GET /a.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return String(decoding: connection.readAll(), as: UTF8.self).hasSuffix(Self.a)
    }

    @Test("[limits] connections: all addresses together, exempt ones too, hold at most that many; past it a connection is closed at once, and served again once one is given back")
    func connectionsInTotal() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a],
                                       configuration: "[limits]\nconnections = 30\nconnections_exempt = [\"127.0.0.4/32\"]\n")
        var held = Self.hold(10, server.httpPort, from: "127.0.0.2") + Self.hold(10, server.httpsPort, from: "127.0.0.3")
            + Self.hold(10, server.httpPort, from: "127.0.0.4")
        #expect(eventually { Self.established(server) >= 30 })
        let refused = RawConnection(port: server.httpPort, source: "127.0.0.5")
        #expect(eventually { refused.closedByPeer })
        let refusedExempt = RawConnection(port: server.httpsPort, source: "127.0.0.4")
        #expect(eventually { refusedExempt.closedByPeer })
        held.removeLast(5)
        #expect(try server.event("connection-refused") >= 2)
        #expect(eventually { Self.served(server, from: "127.0.0.5") })
        #expect(held.count == 25)
    }

    @Test("one address holds at most connections_per_address on HTTP and HTTPS; others are served; exempt ones are not counted")
    func connectionsPerAddress() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a],
                                       configuration: "[limits]\nconnections_per_address = 20\nconnections_exempt = [\"127.0.0.4/32\"]\n")
        // 127.0.0.2 takes its 20 (over HTTP and HTTPS together) and holds them idle.
        var held = Self.hold(10, server.httpPort, from: "127.0.0.2") + Self.hold(10, server.httpsPort, from: "127.0.0.2")
        #expect(eventually { Self.established(server) >= 20 })
        // Its 21st, on either listener, is closed at once, unanswered.
        let refused = RawConnection(port: server.httpPort, source: "127.0.0.2")
        #expect(eventually { refused.closedByPeer })
        let refusedTLS = RawConnection(port: server.httpsPort, source: "127.0.0.2")
        #expect(eventually { refusedTLS.closedByPeer })
        #expect(try server.event("connection-refused") >= 2)
        // Another address is served; so is an exempt one, however many it holds.
        #expect(Self.served(server, from: "127.0.0.3"))
        let exempt = Self.hold(25, server.httpPort, from: "127.0.0.4")
        #expect(Self.served(server, from: "127.0.0.4"))
        // A connection given back frees its place: 127.0.0.2 is served again.
        held.removeLast()
        #expect(eventually { Self.served(server, from: "127.0.0.2") })
        #expect(held.count == 19 && exempt.count == 25)
    }

    @Test("the SwiftNIO path too: no TLS handshake, or a head handed over unfinished, is closed after the head timeout")
    func overdueHeadsOnTheFullPath() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a], configuration: "[limits]\nhead_timeout_seconds = 2\n")
        let noHandshake = RawConnection(port: server.httpsPort, source: "127.0.0.2")
        let halfHello = RawConnection(port: server.httpsPort, source: "127.0.0.2")
        halfHello.send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])  // the start of a ClientHello, and no more
        // HTTP/1.0 sends the connection to the full parser at its request line, which then waits for the rest.
        let handedOver = RawConnection(port: server.httpPort, source: "127.0.0.2")
        handedOver.send("GET /a.cfg HTTP/1.0\r\nHost: x\r\n")
        #expect(eventually(within: 30) { noHandshake.closedByPeer && halfHello.closedByPeer && handedOver.closedByPeer },
                "handshake \(noHandshake.closedByPeer), hello \(halfHello.closedByPeer), head \(handedOver.closedByPeer)")
        #expect(try server.event("head-timeout") >= 3)
        // Others are served meanwhile.
        #expect(try Client.curl(["\(server.https)/a.cfg"]).body == Self.a)
    }

    @Test("requests the quick reader does not accept go to the full parser: obsolete line folding, bare LF, HTTP/1.0")
    func unusualHeads() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a])
        let folded = HTTPRobustnessTests.exchange(
            port: server.httpPort, Array("GET /a.cfg HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n".utf8))
        #expect(folded.hasPrefix("HTTP/1.1 400"), "\(folded.prefix(60))")
        let old = HTTPRobustnessTests.exchange(port: server.httpPort, Array("GET /a.cfg HTTP/1.0\r\n\r\n".utf8))
        #expect(old.hasPrefix("HTTP/1.0 200"), "\(old.prefix(60))")
        #expect(old.hasSuffix(Self.a))
        let absolute = HTTPRobustnessTests.exchange(
            port: server.httpPort, Array("GET http://x/a.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        #expect(absolute.hasPrefix("HTTP/1.1 200"), "\(absolute.prefix(60))")
        let huge = HTTPRobustnessTests.exchange(
            port: server.httpPort,
            Array(("GET /a.cfg HTTP/1.1\r\nX-Filler: " + String(repeating: "y", count: 100_000) + "\r\n\r\n").utf8))
        #expect(huge.hasPrefix("HTTP/1.1 4"), "\(huge.prefix(60))")
        #expect(try Client.curl(["\(server.http)/a.cfg"]).status == 200)
    }

    @Test("a large file reaches a slow reader whole while others are served; SIGTERM lets it finish, then exits 0")
    func slowReaderAndShutdown() throws {
        let server = try ServerProcess(files: ["a.cfg": Self.a])
        let firmware = Data((0..<(24 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 13) })
        try server.writeBytes("T46-28.81.0.110.rom", firmware)
        // The first request loads the file into memory; the second is answered from memory by the epoll path.
        #expect(try Client.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}",
                                        "\(server.http)/T46-28.81.0.110.rom"]).stdout == "200")
        let slow = RawConnection(port: server.httpPort, timeoutSeconds: 10)
        slow.send("GET /T46-28.81.0.110.rom HTTP/1.1\r\nHost: x\r\n\r\n")
        // The socket buffers fill up; the server must wait for this reader without stalling the others.
        #expect(eventually { TCPTable.sendQueueBytes(localPort: server.httpPort) > 0 })
        let other = try Client.curl(["-m", "5", "\(server.http)/a.cfg"])
        #expect(other.status == 200)
        #expect(other.body == Self.a)
        let idle = RawConnection(port: server.httpPort)  // an idle keep-alive connection must not hold up the exit
        _ = idle
        kill(server.process.processIdentifier, SIGTERM)
        // Draining: new connections are refused while the slow reader is still being served.
        #expect(eventually { !RawConnection(port: server.httpPort).connected })
        let received = slow.readAll()
        let answer = responses(received)
        #expect(answer.first?.status == 200)
        #expect(answer.first?.body.count == firmware.count)
        #expect(answer.first.map { Data($0.body) == firmware } == true)
        #expect(server.stop() == 0)
    }

    @Test("many connections at once, each pipelining requests: every answer complete and in order")
    func concurrentPipelines() async throws {
        var files: [String: String] = [:]
        for index in 0..<50 { files[String(format: "0015650000%02d.cfg", index)] = "#!version:1.0.0.1\nindex = \(index)\n" }
        let server = try ServerProcess(files: files)
        let port = server.httpPort
        let failures = await withTaskGroup(of: Int.self) { group in
            for client in 0..<64 {
                group.addTask {
                    let connection = RawConnection(port: port)
                    let order = (0..<20).map { ($0 * 7 + client) % 50 }
                    connection.send(order.enumerated().map { position, index in
                        "GET /" + String(format: "0015650000%02d.cfg", index) + " HTTP/1.1\r\nHost: x\r\n"
                            + (position == order.count - 1 ? "Connection: close\r\n" : "") + "\r\n"
                    }.joined())
                    let answers = responses(connection.readAll())
                    let bodies = answers.map { String(decoding: $0.body, as: UTF8.self) }
                    let expected = order.map { "#!version:1.0.0.1\nindex = \($0)\n" }
                    return bodies == expected ? 0 : 1
                }
            }
            return await group.reduce(0, +)
        }
        #expect(failures == 0)
        #expect(server.stop() == 0)
    }
}
