import Foundation
import Testing
#if canImport(Glibc)
import Glibc
import TestSupport
#endif

/// A listening socket on 127.0.0.1, for the data connection of an active transfer (EPRT).
final class RawListener {
    let descriptor: Int32
    let port: Int

    init() {
        let listening = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(listening, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(listening, $0, length)
                return getsockname(listening, $0, &length)
            }
        }
        listen(listening, 4)
        descriptor = listening
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }

    /// Accepts one connection (within 5 s) and reads it to the end.
    func acceptAndReadAll() -> [UInt8] {
        let connection = accept(descriptor, nil, nil)
        guard connection >= 0 else { return [] }
        defer { close(connection) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return receiveUntilClosed(connection)
    }
}

/// Plain FTP sessions run on the server's epoll loops; TLS and active data connections move to the SwiftNIO
/// session. These tests cover what that split could break: the move itself, pipelined commands, data connections
/// from strangers, files too large to read on a loop, and one session holding the others up.
@Suite("autoprov serve: the FTP fast path and its hand-over to SwiftNIO", .blocking, .serialized, .timeLimit(.minutes(5)))
struct ServeFTPFastPathTests {
    @Test("EPRT moves a session to SwiftNIO mid-way: login, directory, TYPE and the commands behind it carry over")
    func handOverKeepsTheSession() throws {
        let server = try ServeFTPTests.start()
        let client = RawFTPClient(port: server.ftpPort)
        #expect(client.login("phones", "pw") == 230)
        #expect(client.send("CWD sub").code == 250)
        #expect(client.send("TYPE A").code == 200)
        let listener = RawListener()
        // The EPRT and the PWD behind it arrive together; both are answered, in order, by the new owner.
        client.control.send("EPRT |1|127.0.0.1|\(listener.port)|\r\nPWD\r\n")
        #expect(client.reply().code == 200)
        #expect(client.reply().text.contains("\"/sub\" is the current directory"))
        #expect(client.send("RETR inner.cfg").code == 150)
        let data = listener.acceptAndReadAll()
        #expect(client.reply().code == 226)
        // Relative to /sub, with CRLF line ends (TYPE A): the state came along.
        #expect(String(decoding: data, as: UTF8.self) == sipFile.replacingOccurrences(of: "\n", with: "\r\n"))
        // Still logged in as a user that may upload.
        #expect(client.send("NOOP").code == 200)
        #expect(client.send("QUIT").code == 221)
    }

    @Test("commands sent together in one packet are answered in order, and a transfer among them waits its turn")
    func pipelinedCommands() throws {
        let server = try ServeFTPTests.start()
        let client = RawFTPClient(port: server.ftpPort)
        _ = client.reply()
        client.control.send("USER phones\r\nPASS pw\r\nSYST\r\nNOOP\r\nPWD\r\nSIZE 00156574b150.cfg\r\nXYZZ\r\n")
        let codes = (0..<7).map { _ in client.reply().code }
        #expect(codes == [331, 230, 215, 200, 257, 213, 502])
        let port = try #require(client.extendedPassive())
        let data = RawConnection(port: port)
        client.control.send("RETR 00156574b150.cfg\r\nMDTM 00156574b150.cfg\r\n")
        #expect(client.reply().code == 150)
        #expect(data.readAll() == Array(sipFile.utf8))
        #expect(client.reply().code == 226)
        #expect(client.reply().code == 213)
    }

    @Test("a data connection from another address is closed (no port theft); the client's own then gets the file")
    func passivePortTheft() throws {
        let server = try ServeFTPTests.start()
        let client = RawFTPClient(port: server.ftpPort)
        #expect(client.login("phones", "pw") == 230)
        let port = try #require(client.extendedPassive())
        let thief = RawConnection(port: port, source: "127.0.0.2")
        #expect(thief.readAll().isEmpty)
        let data = RawConnection(port: port)
        #expect(client.send("RETR 00156574b150.cfg").code == 150)
        #expect(data.readAll() == Array(sipFile.utf8))
        #expect(client.reply().code == 226)
    }

    @Test("a file larger than a loop reads on the spot (1 MiB) is loaded off the loop and arrives whole")
    func largeFile() throws {
        let large = String(repeating: "# firmware-sized line of text for the FTP fast path\n", count: 60_000)
        let server = try ServerProcess(files: ["big.rom": large, "00156574b150.cfg": sipFile],
                                       configuration: "[ftp]\nanonymous = true\n")
        let fetched = try Client.run("curl", ["-s", "ftp://\(server.ftpHostPort)/big.rom"])
        #expect(fetched.status == 0)
        #expect(fetched.stdout.utf8.count == large.utf8.count)
        #expect(fetched.stdout == large)
        let resumed = try Client.run("curl", ["-s", "-C", "3000000", "ftp://\(server.ftpHostPort)/big.rom"])
        #expect(resumed.stdout == String(large.dropFirst(3_000_000)))
    }

    @Test("sessions that stall (a data connection never made, half a command line) hold nobody else up")
    func stalledSessions() throws {
        let server = try ServeFTPTests.start()
        let waiting = RawFTPClient(port: server.ftpPort)
        #expect(waiting.login("phones", "pw") == 230)
        #expect(waiting.send("EPSV").code == 229)
        #expect(waiting.send("RETR 00156574b150.cfg").code == 150)
        let halfLine = RawFTPClient(port: server.ftpPort)
        _ = halfLine.reply()
        halfLine.control.send("USER pho")
        // Others are served meanwhile: each fetch ends with the file, none with curl's own time limit (exit 28).
        for _ in 0..<5 {
            #expect(try Client.run("curl", ["-s", "-m", "10", "ftp://phones:pw@\(server.ftpHostPort)/00156574b150.cfg"])
                        .stdout == sipFile)
        }
        // The stalled session still answers once its line is complete.
        halfLine.control.send("nes\r\n")
        #expect(halfLine.reply().code == 331)
    }

    @Test("ABOR (after Telnet IP and Synch) ends a transfer that waits for its data connection: 426, then 226")
    func abortWhileWaiting() throws {
        let server = try ServeFTPTests.start()
        let client = RawFTPClient(port: server.ftpPort)
        #expect(client.login("phones", "pw") == 230)
        #expect(client.extendedPassive() != nil)
        #expect(client.send("RETR 00156574b150.cfg").code == 150)
        // ABOR answers at once: 426 and 226 (a transfer left to its 15 s data-connection timeout would end in 425).
        client.control.send([0xFF, 0xF4, 0xFF] + Array("ABOR\r\n".utf8))
        #expect(client.reply().code == 426)
        #expect(client.reply().code == 226)
        #expect(client.send("NOOP").code == 200)
        // The session goes on: the next transfer works.
        #expect(client.transfer("RETR 00156574b150.cfg").data == Array(sipFile.utf8))
    }

    @Test("sessions that never log in cannot lock others out: a per-address cap (421), a login deadline, slots freed")
    func idleSessions() throws {
        let server = try ServeFTPTests.start("[limits]\nftp_sessions_per_address = 5\nftp_login_timeout_seconds = 2\n")
        let banner = { (connection: RawConnection) in String(decoding: connection.read(atLeast: 4), as: UTF8.self) }
        let idle = (0..<5).map { _ in RawConnection(port: server.ftpPort, source: "127.0.0.2") }
        for connection in idle { #expect(banner(connection).hasPrefix("220")) }
        // The sixth from the same address is turned away at once.
        let sixth = RawConnection(port: server.ftpPort, source: "127.0.0.2")
        #expect(String(decoding: sixth.readAll(), as: UTF8.self).hasPrefix("421"))
        // Another address logs in and downloads meanwhile.
        let other = try Client.run("curl", ["-s", "--interface", "127.0.0.3",
                                            "ftp://phones:pw@\(server.ftpHostPort)/00156574b150.cfg"])
        #expect(other.stdout == sipFile)
        // One of them drips a command a byte at a time: that keeps it from being idle, not from its login deadline.
        let drip = Array("USER phones\r\nPASS pw\r\n".utf8.dropLast(3))
        var (sent, answers, ended) = (0, [UInt8](), false)
        #expect(eventually(within: 30) {
            let (bytes, closed) = idle[0].takeAvailable()
            (answers, ended) = (answers + bytes, closed)
            if !ended, sent < drip.count {
                idle[0].send([drip[sent]])
                sent += 1
                usleep(200_000)  // the pace of the drip, not a wait for the server
            }
            return ended
        }, "\(sent) bytes dripped")
        #expect(sent < drip.count)
        #expect(String(decoding: answers, as: UTF8.self).contains("421 Login timed out"))
        // The idle ones are told and closed once their login deadline has passed, which frees their places.
        for connection in idle.dropFirst() {
            #expect(String(decoding: connection.readAll(), as: UTF8.self).contains("421 Login timed out"))
        }
        #expect(try server.event("login-timeout") >= 5)
        let again = RawConnection(port: server.ftpPort, source: "127.0.0.2")
        #expect(banner(again).hasPrefix("220"))
    }

    @Test("[limits] ftp_sessions: sessions from all addresses together are capped (421), and a place given back is taken again")
    func sessionsInTotal() throws {
        let server = try ServeFTPTests.start("[limits]\nftp_sessions = 4\n")
        let banner = { (connection: RawConnection) in String(decoding: connection.read(atLeast: 4), as: UTF8.self) }
        var held = (0..<4).map { index in RawConnection(port: server.ftpPort, source: "127.0.0.\(index + 2)") }
        for connection in held { #expect(banner(connection).hasPrefix("220")) }
        let fifth = RawConnection(port: server.ftpPort, source: "127.0.0.9")
        #expect(String(decoding: fifth.readAll(), as: UTF8.self).hasPrefix("421 Too many sessions"))
        held.removeLast()
        #expect(eventually {
            let download = try? Client.run("curl", ["-s", "--interface", "127.0.0.9",
                                                    "ftp://phones:pw@\(server.ftpHostPort)/00156574b150.cfg"])
            return download?.stdout == sipFile
        })
        #expect(held.count == 3)
    }

    @Test("sessions that start TLS and never handshake still count against their address and meet the login deadline")
    func idleTLSSessions() throws {
        let server = try ServeFTPTests.start("[limits]\nftp_sessions_per_address = 5\nftp_login_timeout_seconds = 2\n")
        // AUTH TLS hands each session to the TLS side; none of them ever sends a ClientHello.
        let held = (0..<5).map { _ in RawFTPClient(port: server.ftpPort, source: "127.0.0.2") }
        for client in held {
            #expect(client.reply().code == 220)
            #expect(client.send("AUTH TLS").code == 234)
        }
        // Handed over, they still hold their address's places: the sixth is turned away.
        let sixth = RawConnection(port: server.ftpPort, source: "127.0.0.2")
        #expect(String(decoding: sixth.readAll(), as: UTF8.self).hasPrefix("421"))
        let other = try Client.run("curl", ["-s", "--interface", "127.0.0.3",
                                            "ftp://phones:pw@\(server.ftpHostPort)/00156574b150.cfg"])
        #expect(other.stdout == sipFile)
        // Their login deadline closes them and gives the places back.
        for client in held { #expect(eventually { client.control.closedByPeer }) }
        #expect(try server.event("login-timeout") >= 5)
        #expect(eventually {
            let again = RawConnection(port: server.ftpPort, source: "127.0.0.2")
            return String(decoding: again.read(atLeast: 4), as: UTF8.self).hasPrefix("220")
        })
    }

    @Test("epsv_reply_delay_us holds EPSV replies (100 µs by default): transfers go on in order either way",
          arguments: [0, 100])
    func heldPassiveReplies(_ delay: Int) throws {
        let server = try ServerProcess(
            files: ["00156574b150.cfg": sipFile],
            configuration: ServeFTPTests.configuration.replacingOccurrences(of: "[ftp]\n", with: "[ftp]\nepsv_reply_delay_us = \(delay)\n"))
        let client = RawFTPClient(port: server.ftpPort)
        #expect(client.login("phones", "pw") == 230)
        for _ in 0..<20 {
            #expect(client.transfer("RETR 00156574b150.cfg").data == Array(sipFile.utf8))
        }
        #expect(client.send("NOOP").code == 200)
    }

    @Test("SIGTERM closes idle sessions and the server exits 0")
    func stopClosesIdleSessions() throws {
        let server = try ServeFTPTests.start()
        let client = RawFTPClient(port: server.ftpPort)
        #expect(client.login("phones", "pw") == 230)
        #expect(server.stop() == 0)
        #expect(client.control.readAll().isEmpty)
        // Closed when the server stopped, not cut when the drain ran out: the server says which.
        #expect(!server.log.contains("drain deadline"), "\(server.log)")
    }
}
