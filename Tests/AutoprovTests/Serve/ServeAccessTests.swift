import Foundation
import Testing
import TestSupport

/// S2 and S5 decided on the file the server really opens, on every protocol: links inside the root.
@Suite("S2 and S5 through symbolic links, on TFTP, HTTP, HTTPS, FTP and FTPS", .blocking, .serialized, .timeLimit(.minutes(5)))
struct ServeLinkTests {
    static let protected = "#!version:1.0.0.1\nsecret = yes\n"
    static let phones = Account(username: "phones", password: "pw")
    static let owner = Account(username: "user1", password: "secret1")

    /// `open` and `open.cfg` lead into the protected `T23G_1`; `out.cfg` leads out of the root.
    static func start() throws -> ServerProcess {
        let server = try ServeFTPTests.start()
        let root = server.root.path
        try FileManager.default.createSymbolicLink(atPath: root + "/open", withDestinationPath: "T23G_1")
        try FileManager.default.createSymbolicLink(atPath: root + "/open.cfg",
                                                   withDestinationPath: "T23G_1/y000000000044.cfg")
        try FileManager.default.createSymbolicLink(atPath: root + "/out.cfg",
                                                   withDestinationPath: server.directory.path + "/secret.cfg")
        try ServeConfinementTests.secret.write(to: server.directory.appendingPathComponent("secret.cfg"),
                                               atomically: true, encoding: .utf8)
        return server
    }

    /// The refusal each protocol gives for one case.
    static func code(_ wire: Wire, tftp: Int, http: Int, ftp: Int) -> Int {
        switch wire {
        case .tftp: tftp
        case .http, .https: http
        case .ftp, .ftps, .ftpActive: ftp
        }
    }

    @Test("S5: a link into a [[directory]] asks for that directory's credentials (TFTP 2, HTTP 401, FTP 550)",
          arguments: Wire.allCases)
    func linkIntoProtectedDirectory(_ wire: Wire) throws {
        let server = try Self.start()
        let refusal = Self.code(wire, tftp: 2, http: 401, ftp: 550)
        for path in ["open.cfg", "open/y000000000044.cfg"] {
            #expect(try server.read(path, over: wire, as: wire.carriesCredentials ? Self.phones : nil)
                == .refused(refusal), "\(wire) \(path)")
            if wire.carriesCredentials {
                #expect(try server.read(path, over: wire, as: Self.owner) == .file(Self.protected), "\(wire) \(path)")
            }
        }
        if wire == .ftp {
            // Its listing too: LIST and CWD through the link are the protected directory's.
            let client = RawFTPClient(port: server.ftpPort)
            #expect(client.login("phones", "pw") == 230)
            #expect(client.transfer("LIST open").first == 550)
            #expect(client.send("CWD open").code == 550)
            let owner = RawFTPClient(port: server.ftpPort)
            #expect(owner.login("user1", "secret1") == 230)
            #expect(String(decoding: owner.transfer("NLST open").data, as: UTF8.self).contains("y000000000044.cfg"))
        }
        // Uploads through the link need the same credentials.
        let upload = try server.write("open/001565000001-local.cfg", "#!version:1.0.0.1\n", over: wire,
                                      as: wire.carriesCredentials ? Self.phones : nil)
        #expect(upload == .refused(wire == .http || wire == .https ? 401 : refusal), "\(wire)")
        #expect(try server.servesAll("00156574b150.cfg", expecting: sipFile))
    }

    @Test("S2: a link out of the root is refused as outside (TFTP 2, HTTP 403, FTP 550), never followed",
          arguments: Wire.allCases)
    func linkOutOfTheRoot(_ wire: Wire) throws {
        let server = try Self.start()
        let expected = Self.code(wire, tftp: 2, http: 403, ftp: 550)
        #expect(try server.read("out.cfg", over: wire, as: wire.carriesCredentials ? Self.phones : nil)
            == .refused(expected))
    }
}

/// S5's credentials: what a captured header or another valid account can and cannot do.
@Suite("S5 credentials: Digest replays and FTP accounts", .blocking, .serialized, .timeLimit(.minutes(5)))
struct ServeCredentialTests {
    @Test("Digest: a captured Authorization header sent again (same nonce and count) is refused, on HTTP and HTTPS",
          arguments: [false, true])
    func digestReplay(_ overTLS: Bool) throws {
        let server = try ServeLinkTests.start()
        let url = "\(overTLS ? server.https : server.http)/T23G_1/y000000000044.cfg"
        // curl answers the challenge; its verbose output shows the header it sent.
        let first = try Client.run("curl", ["-s", "-k", "-v", "-m", "15", "--digest", "-u", "user1:secret1", url])
        #expect(first.stdout == ServeLinkTests.protected)
        let header = try #require(first.stderr.split(whereSeparator: \.isNewline)
            .first { $0.hasPrefix("> Authorization: Digest") }?.dropFirst(2).trimmingCharacters(in: .whitespacesAndNewlines))
        // The same header again: a 401 asking for a fresh nonce, not the file; and nothing is slowed down.
        let replay = try Client.curl(["-D", "-", "-H", header, url])
        #expect(replay.status == 401)
        #expect(replay.body.contains("stale=true"))
        #expect(!replay.body.contains("secret = yes"))
        // An honest client (a new challenge, a new nonce) is served again.
        #expect(try Client.curl(["--digest", "-u", "user1:secret1", url]).body == ServeLinkTests.protected)
    }

    @Test("FTP: a valid [[ftp.user]] that touches a [[directory]] gets 550, and is not counted as a failed guess")
    func otherAccountIsNotAGuess() throws {
        let server = try ServeLinkTests.start()
        // One session (a login forgets earlier failures), many tries.
        let client = RawFTPClient(port: server.ftpPort)
        #expect(client.login("phones", "pw") == 230)
        for _ in 0..<6 {
            #expect(client.transfer("RETR T23G_1/y000000000044.cfg").first == 550)
        }
        #expect(try server.event("auth-delayed") == 0)
        #expect(try server.read("T23G_1/y000000000044.cfg", over: .ftp, as: ServeLinkTests.phones) == .refused(550))
        #expect(try server.read("00156574b150.cfg", over: .ftp, as: ServeLinkTests.phones) == .file(sipFile))
        // Wrong passwords still are.
        for _ in 0..<5 {
            #expect(try server.read("00156574b150.cfg", over: .ftp, as: Account(username: "phones", password: "x"))
                == .refused(530))
        }
        #expect(try server.event("auth-delayed") >= 1)
    }
}

/// S4 on every protocol: which names a phone may upload, how large, and that the previous version is kept.
@Suite("S4 uploads on TFTP, HTTP, HTTPS, FTP and FTPS", .blocking, .serialized, .timeLimit(.minutes(5)))
struct ServeUploadRuleTests {
    static func start(_ extra: String = "") throws -> ServerProcess {
        try ServerProcess(files: ["00156574b150.cfg": sipFile],
                          configuration: ServeFTPTests.configuration + "\n" + extra)
    }

    static func account(_ wire: Wire) -> Account? { wire.carriesCredentials ? ServeLinkTests.phones : nil }

    @Test("the default allow-list takes <mac>-local.cfg and <mac>-contact.xml, not any name that ends so",
          arguments: Wire.allCases)
    func defaultAllowList(_ wire: Wire) throws {
        let server = try Self.start()
        let refused = ServeLinkTests.code(wire, tftp: 2, http: 403, ftp: 550)
        for name in ["evil-local.cfg", "a/b/c/x-local.cfg", "00156574B150-local.cfg", "0015657-local.cfg",
                     "00156574b150.cfg", "y000000000000.boot"] {
            #expect(try server.write(name, "#!version:1.0.0.1\n", over: wire, as: Self.account(wire)) == .refused(refused),
                    "\(wire) \(name)")
        }
        #expect(ServerProcess.files(below: server.data.appendingPathComponent("uploads")).isEmpty)
        // A phone's own names are stored; the second upload keeps the first as the previous version.
        for name in ["001565000001-local.cfg", "001565000001-contact.xml", "T23G_2/001565000001-local.cfg"] {
            #expect(try server.write(name, "first\n", over: wire, as: Self.account(wire)) == .stored, "\(wire) \(name)")
            #expect(try server.write(name, "second\n", over: wire, as: Self.account(wire)) == .stored, "\(wire) \(name)")
            #expect(try server.read(name, over: .http) == .file("second\n"), "\(wire) \(name)")
            let versions = server.data.appendingPathComponent("uploads/.versions/\(name)")
            let kept = try FileManager.default.contentsOfDirectory(atPath: versions.path)
            #expect(kept.count == 1, "\(wire) \(name)")
            #expect(try kept.map { try String(contentsOf: versions.appendingPathComponent($0), encoding: .utf8) } == ["first\n"])
        }
    }

    @Test("over max_bytes: TFTP error 3, HTTP 413, FTP 552, and nothing is stored", arguments: Wire.allCases)
    func sizeLimit(_ wire: Wire) throws {
        let server = try Self.start("[uploads]\nmax_bytes = 600\n")
        let large = String(repeating: "x = 1\n", count: 200)
        let expected = ServeLinkTests.code(wire, tftp: 3, http: 413, ftp: 552)
        #expect(try server.write("001565000001-local.cfg", large, over: wire, as: Self.account(wire)) == .refused(expected))
        #expect(try server.read("001565000001-local.cfg", over: .http) == .refused(404))
        #expect(ServerProcess.files(below: server.data.appendingPathComponent("uploads")).isEmpty)
        #expect(try server.write("001565000001-local.cfg", "small\n", over: wire, as: Self.account(wire)) == .stored)
    }

    @Test("[limits] upload_mb: while another upload holds the budget, one more is refused (TFTP error 3, HTTP 503 with Retry-After, FTP 452) and nothing is stored; once that one goes, the same upload is stored (S6)", arguments: Wire.allCases)
    func uploadBudget(_ wire: Wire) throws {
        let server = try Self.start("[uploads]\nmax_bytes = 4194304\n[limits]\nupload_mb = 1\n")
        // A PUT that declares nearly the whole budget, its body never sent: the 100 says its share is held.
        let holder = RawConnection(port: server.httpPort)
        holder.send("PUT /001565000099-local.cfg HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n"
            + "Expect: 100-continue\r\n\r\n")
        #expect(String(decoding: holder.read(atLeast: 12), as: UTF8.self).hasPrefix("HTTP/1.1 100 "))
        let name = "001565000001-local.cfg"
        let upload = String(repeating: "# 64 bytes of a phone's local settings, line after line .......\n", count: 3200)
        switch wire {
        case .tftp, .http, .https:
            let refused = try server.write(name, upload, over: wire, as: Self.account(wire))
            #expect(refused == .refused(ServeLinkTests.code(wire, tftp: 3, http: 503, ftp: 452)), "\(wire)")
        case .ftp, .ftps, .ftpActive:
            // curl, as lftp takes 452 for what it is (try again later) and retries until it gives up.
            let account = try #require(Self.account(wire))
            let mode = wire == .ftps ? ["--ssl-reqd", "-k"] : wire == .ftpActive ? ["-P", "127.0.0.1"] : []
            let ftp = try Client.run("curl", ["-s", "-v", "-m", "30", "-u", "\(account.username):\(account.password)",
                                              "-T", "-"] + mode + ["ftp://\(server.ftpHostPort)/\(name)"], input: upload)
            #expect(ftp.stderr.contains("< 452 "), "\(wire): \(ftp.stderr.suffix(600))")
        }
        #expect(try server.read(name, over: .http) == .refused(404))
        #expect(try server.event("upload-budget-full") >= 1)
        if wire == .http {
            let busy = try Client.run("curl", ["-s", "-i", "-T", "-", "\(server.http)/\(name)"], input: upload)
            #expect(busy.stdout.lowercased().contains("retry-after: 5"), "\(busy.stdout.prefix(300))")
        }
        // The holder goes: its share comes back, and the same upload is stored.
        holder.shutDown()
        var stored = Answer.broken("never tried")
        #expect(try eventually(within: 20) {
            stored = try server.write(name, upload, over: wire, as: Self.account(wire))
            return stored == .stored
        }, "\(wire): \(stored)")
        #expect(try server.read(name, over: .http) == .file(upload))
        #expect(server.stop() == 0)
    }
}

extension ServerProcess {
    /// Every regular file below `folder` (relative paths), hidden folders included.
    static func files(below folder: URL) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder.path) else { return [] }
        return walker.compactMap { $0 as? String }.filter {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path, isDirectory: &isDirectory)
                && !isDirectory.boolValue
        }.sorted()
    }
}
