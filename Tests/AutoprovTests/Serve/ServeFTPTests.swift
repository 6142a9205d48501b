import Foundation
import Testing
#if canImport(Glibc)
import Glibc
import TestSupport
#endif

/// An FTP control connection driven command by command, with passive data connections (EPSV).
final class RawFTPClient {
    let control: RawConnection
    let port: Int
    private var buffered: [UInt8] = []

    init(port: Int, source: String? = nil) {
        self.port = port
        control = RawConnection(port: port, source: source)
    }

    /// The next complete reply: its code and its text (all lines).
    func reply() -> (code: Int, text: String) {
        var text = ""
        while true {
            guard let line = nextLine() else { return (0, text) }
            text += line + "\n"
            let bytes = Array(line.utf8)
            if bytes.count >= 4, bytes[0..<3].allSatisfy({ (48...57).contains($0) }), bytes[3] == 32 {
                return (Int(String(line.prefix(3)))!, text)
            }
        }
    }

    private func nextLine() -> String? {
        while true {
            if let newline = buffered.firstIndex(of: 10) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeSubrange(...newline)
                return line.hasSuffix("\r") ? String(line.dropLast()) : line
            }
            let more = control.read(atLeast: 1)
            if more.isEmpty { return nil }
            buffered += more
        }
    }

    @discardableResult
    func send(_ line: String) -> (code: Int, text: String) {
        control.send(line + "\r\n")
        return reply()
    }

    func login(_ user: String, _ password: String) -> Int {
        _ = reply()  // 220
        send("USER \(user)")
        return send("PASS \(password)").code
    }

    /// EPSV: the data port announced (nil when refused).
    func extendedPassive() -> Int? {
        let passive = send("EPSV")
        guard passive.code == 229, let open = passive.text.range(of: "(|||") else { return nil }
        return Int(passive.text[open.upperBound...].prefix { $0.isNumber })
    }

    /// EPSV, then `command`: the reply to the command, the data received, and the final reply.
    func transfer(_ command: String, upload: [UInt8]? = nil) -> (first: Int, data: [UInt8], last: Int) {
        guard let dataPort = extendedPassive() else { return (425, [], 0) }
        let data = RawConnection(port: dataPort)
        let first = send(command).code
        guard first == 150 else { return (first, [], first) }
        var received: [UInt8] = []
        if let upload {
            data.send(upload)
            shutdown(data.descriptor, Int32(SHUT_WR))
            _ = data.readAll()
        } else {
            received = data.readAll()
        }
        shutdown(data.descriptor, Int32(SHUT_RDWR))  // done with it, as a client closes its data connection
        return (first, received, reply().code)
    }
}

@Suite("autoprov serve over FTP and FTPS (RFC 959, 2428, 3659, 4217)", .blocking, .serialized, .timeLimit(.minutes(5)))
struct ServeFTPTests {
    static let configuration = """
        [ftp]
        [[ftp.user]]
        username = "phones"
        password = "pw"
        [[directory]]
        path = "T23G_1"
        username = "user1"
        password = "secret1"
        """

    static func start(_ extra: String = "") throws -> ServerProcess {
        try ServerProcess(files: ["00156574b150.cfg": sipFile, "y000000000000.boot": bootFile, "sub/inner.cfg": sipFile,
                                  "T23G_1/y000000000044.cfg": "#!version:1.0.0.1\nsecret = yes\n"],
                          configuration: configuration + "\n" + extra)
    }

    @Test("curl: download, upload (then the same bytes over HTTP), a missing file, a wrong password")
    func curl() throws {
        let server = try Self.start()
        let base = "ftp://phones:pw@\(server.ftpHostPort)"
        let download = try Client.run("curl", ["-s", "\(base)/00156574b150.cfg"])
        #expect(download.stdout == sipFile)
        let local = server.directory.appendingPathComponent("local.cfg")
        try "#!version:1.0.0.1\nlocal = 1\n".write(to: local, atomically: true, encoding: .utf8)
        let upload = try Client.run("curl", ["-s", "-T", local.path, "\(base)/00156574b150-local.cfg"])
        #expect(upload.status == 0, "\(upload.stderr)")
        #expect(try Client.curl(["\(server.http)/00156574b150-local.cfg"]).body == "#!version:1.0.0.1\nlocal = 1\n")
        #expect(try Client.run("curl", ["-s", "\(base)/00156574b150-local.cfg"]).stdout == "#!version:1.0.0.1\nlocal = 1\n")
        // Not an allowed upload name (S4): refused, nothing stored.
        let refused = try Client.run("curl", ["-s", "-T", local.path, "\(base)/y000000000000.boot"])
        #expect(refused.status != 0)
        #expect(try Client.curl(["\(server.http)/y000000000000.boot"]).body == bootFile)
        // 550 for a missing file (curl's exit 78), 530 for a wrong password (curl's exit 67).
        #expect(try Client.run("curl", ["-s", "\(base)/00156574b151.cfg"]).status == 78)
        #expect(try Client.run("curl", ["-s", "ftp://phones:wrong@\(server.ftpHostPort)/00156574b150.cfg"]).status == 67)
        let listing = try Client.run("curl", ["-s", "\(base)/"])
        #expect(listing.stdout.contains("00156574b150.cfg") && listing.stdout.contains("T23G_1"), "\(listing.stdout)")
        #expect(server.stop() == 0)
        let log = try CommandRunner.run(["log", "--data", server.data.path, "--mac", "00:15:65:74:b1:50"])
        #expect(log.stdout.contains("ftp"), "\(log.stdout)")
    }

    @Test("explicit FTPS (AUTH TLS, PROT P) with curl --ssl-reqd: download and upload")
    func ftps() throws {
        let server = try Self.start()
        let base = "ftp://phones:pw@\(server.ftpHostPort)"
        let download = try Client.run("curl", ["-s", "--ssl-reqd", "-k", "\(base)/00156574b150.cfg"])
        #expect(download.status == 0, "\(download.stderr)")
        #expect(download.stdout == sipFile)
        let local = server.directory.appendingPathComponent("tls.cfg")
        try "over tls\n".write(to: local, atomically: true, encoding: .utf8)
        let upload = try Client.run("curl", ["-s", "--ssl-reqd", "-k", "-T", local.path, "\(base)/00156574b150-local.cfg"])
        #expect(upload.status == 0, "\(upload.stderr)")
        #expect(try Client.curl(["\(server.http)/00156574b150-local.cfg"]).body == "over tls\n")
    }

    @Test("lftp: login, ls, mirror of a directory, put; and the same over TLS")
    func lftp() throws {
        let server = try Self.start()
        let work = server.directory
        let local = work.appendingPathComponent("up.cfg")
        try "from lftp\n".write(to: local, atomically: true, encoding: .utf8)
        let plain = try Client.run("lftp", [
            "-u", "phones,pw", "-p", String(server.ftpPort), "-e",
            "set ftp:ssl-allow no; set net:max-retries 1; ls; mirror sub mirrored; put up.cfg -o 00156574b150-local.cfg; bye",
            "127.0.0.1"], in: work)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout.contains("00156574b150.cfg"))
        #expect(try String(contentsOf: work.appendingPathComponent("mirrored/inner.cfg"), encoding: .utf8) == sipFile)
        #expect(try Client.curl(["\(server.http)/00156574b150-local.cfg"]).body == "from lftp\n")
        let secure = try Client.run("lftp", [
            "-u", "phones,pw", "-p", String(server.ftpPort), "-e",
            "set ssl:verify-certificate no; set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set net:max-retries 1; "
                + "ls; get 00156574b150.cfg -o viatls.cfg; bye",
            "127.0.0.1"], in: work)
        #expect(secure.status == 0, "\(secure.stderr)")
        #expect(try String(contentsOf: work.appendingPathComponent("viatls.cfg"), encoding: .utf8) == sipFile)
    }

    @Test("an activation-code directory (R8.2) needs its own credentials on FTP as on HTTP")
    func directoryCredentials() throws {
        let server = try Self.start()
        let path = "T23G_1/y000000000044.cfg"
        #expect(try Client.run("curl", ["-s", "ftp://phones:pw@\(server.ftpHostPort)/\(path)"]).status != 0)
        #expect(try Client.run("curl", ["-s", "ftp://phones:pw@\(server.ftpHostPort)/T23G_1/"]).status != 0)
        let allowed = try Client.run("curl", ["-s", "ftp://user1:secret1@\(server.ftpHostPort)/\(path)"])
        #expect(allowed.stdout == "#!version:1.0.0.1\nsecret = yes\n")
        #expect(try Client.curl(["\(server.http)/\(path)"]).status == 401)
        #expect(try Client.curl(["-u", "user1:secret1", "\(server.http)/\(path)"]).status == 200)
    }

    @Test("S2: at least 30 hostile paths on RETR, STOR, CWD and LIST: none reaches outside the root")
    func confinement() throws {
        let server = try Self.start("[uploads]\nallow = [\"*\"]\n")
        try ServeConfinementTests.secret.write(to: server.directory.appendingPathComponent("secret.cfg"),
                                               atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: server.root.appendingPathComponent("link.cfg").path,
            withDestinationPath: server.directory.appendingPathComponent("secret.cfg").path)
        try FileManager.default.createSymbolicLink(atPath: server.root.appendingPathComponent("linkdir").path,
                                                   withDestinationPath: server.directory.path)
        let client = RawFTPClient(port: server.ftpPort)
        #expect(client.login("phones", "pw") == 230)
        let hostile = ServeConfinementTests.hostilePaths.map { $0.removingPercentEncoding ?? $0 }
            + ["../../../../etc/passwd", "/../secret.cfg", "sub/../../secret.cfg", "linkdir", "linkdir/secret.cfg"]
        #expect(hostile.count >= 30)
        // (NUL cannot travel in an FTP command line; a 5,000-byte name is longer than a command line may be.)
        for path in hostile where !path.contains("\u{0}") && path.utf8.count < 4000 {
            let retr = client.transfer("RETR \(path)")
            #expect(!String(decoding: retr.data, as: UTF8.self).contains(ServeConfinementTests.secret), "RETR \(path)")
            // The folder outside the root holds server.out; a listing of it would show that name.
            let list = client.transfer("LIST \(path)")
            #expect(!String(decoding: list.data, as: UTF8.self).contains("server.out"), "LIST \(path)")
            let cwd = client.send("CWD \(path)")
            if cwd.code == 250 {
                let inside = client.transfer("NLST")
                #expect(!String(decoding: inside.data, as: UTF8.self).contains("server.out"), "CWD \(path)")
                client.send("CWD /")
            }
            // Refused, or (where `..` stops at the root, as a chroot would) stored inside the upload store.
            let stored = client.transfer("STOR \(path)", upload: Array("overwritten".utf8))
            #expect([550, 553, 501].contains(stored.first) || (stored.first == 150 && stored.last == 226),
                    "STOR \(path): \(stored.first) \(stored.last)")
        }
        #expect(try String(contentsOf: server.directory.appendingPathComponent("secret.cfg"), encoding: .utf8)
            == ServeConfinementTests.secret)
        #expect(ServeConfinementTests.filesOutside(server).isEmpty, "\(ServeConfinementTests.filesOutside(server))")
        #expect(client.send("QUIT").code == 221)
    }

    @Test("S2 with curl: the hostile paths as URLs (curl walks them with CWD, then RETR): none reaches outside")
    func confinementWithCurl() throws {
        let server = try Self.start()
        try ServeConfinementTests.secret.write(to: server.directory.appendingPathComponent("secret.cfg"),
                                               atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: server.root.appendingPathComponent("link.cfg").path,
            withDestinationPath: server.directory.appendingPathComponent("secret.cfg").path)
        let paths = ServeConfinementTests.hostilePaths.filter { $0.utf8.count < 1000 }
        #expect(paths.count >= 30)
        for path in paths {
            for method in ["multicwd", "nocwd"] {
                let result = try Client.run("curl", ["-s", "--path-as-is", "--ftp-method", method, "-m", "10",
                                                     "ftp://phones:pw@\(server.ftpHostPort)/\(path)"])
                #expect(!result.stdout.contains(ServeConfinementTests.secret), "\(method) \(path)")
                #expect(!result.stdout.contains("server.out"), "\(method) \(path)")
            }
        }
        #expect(try Client.run("curl", ["-s", "ftp://phones:pw@\(server.ftpHostPort)/00156574b150.cfg"]).stdout == sipFile)
    }

    @Test("no FTP bounce; 530 before login; 502 for unknown commands; 500 and a closed session for an overlong line")
    func protocolErrors() throws {
        let server = try Self.start()
        let client = RawFTPClient(port: server.ftpPort)
        _ = client.reply()
        #expect(client.send("RETR 00156574b150.cfg").code == 530)
        #expect(client.send("XYZZ").code == 502)
        client.send("USER phones")
        #expect(client.send("PASS pw").code == 230)
        #expect(client.send("PORT 192,0,2,1,195,80").code == 504)
        #expect(client.send("EPRT |1|192.0.2.1|50000|").code == 504)
        #expect(client.send("PORT 127,0,0,1,0,21").code == 504)
        #expect(client.send("SIZE 00156574b150.cfg").text.hasPrefix("213 \(sipFile.utf8.count)"))
        #expect(client.send("MDTM 00156574b150.cfg").code == 213)
        #expect(client.send("CWD sub").code == 250)
        #expect(client.send("PWD").text.contains("\"/sub\""))
        #expect(client.send("CDUP").code == 250)
        #expect(client.send("MLST 00156574b150.cfg").text.contains("type=file;size=\(sipFile.utf8.count);"))
        let mlsd = client.transfer("MLSD")
        #expect(String(decoding: mlsd.data, as: UTF8.self).contains("type=dir;"), "\(mlsd)")
        #expect(client.send("REST 10").code == 350)
        let rest = client.transfer("RETR 00156574b150.cfg")
        #expect(rest.data == Array(sipFile.utf8.dropFirst(10)))
        #expect(client.send("FEAT").text.contains("AUTH TLS"))
        client.control.send(String(repeating: "A", count: 10_000) + "\r\n")
        #expect(client.reply().code == 500)
        #expect(client.control.readAll().isEmpty)
        // Other sessions are unaffected.
        #expect(try Client.run("curl", ["-s", "ftp://phones:pw@\(server.ftpHostPort)/00156574b150.cfg"]).stdout == sipFile)
    }

    @Test("anonymous logins, when enabled, read but never write; repeated wrong passwords are slowed down (S5)")
    func anonymousAndSlowdown() throws {
        let server = try Self.start()
        #expect(try Client.run("curl", ["-s", "ftp://\(server.ftpHostPort)/00156574b150.cfg"]).status == 67)
        let open = try ServerProcess(files: ["00156574b150.cfg": sipFile], configuration: "[ftp]\nanonymous = true\n")
        #expect(try Client.run("curl", ["-s", "ftp://\(open.ftpHostPort)/00156574b150.cfg"]).stdout == sipFile)
        let local = open.directory.appendingPathComponent("x.cfg")
        try "x".write(to: local, atomically: true, encoding: .utf8)
        #expect(try Client.run("curl", ["-s", "-T", local.path, "ftp://\(open.ftpHostPort)/00156574b150-local.cfg"]).status != 0)
        // The anonymous attempt above was this address's first failure; from the fourth on, each answer is held.
        var held: [Int] = []
        for _ in 0..<6 {
            #expect(try Client.run("curl", ["-s", "ftp://phones:wrong@\(server.ftpHostPort)/"]).status == 67)
            held.append(try server.event("auth-delayed"))
        }
        #expect(held == [0, 0, 1, 2, 3, 4])
    }
}
