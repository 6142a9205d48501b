import Foundation
import Testing
import TestSupport

/// S2 and S5 as tables: one list of hostile paths and one of credential cases, each run over TFTP, HTTP, HTTPS,
/// FTP and FTPS, reads and writes, with real clients (tftp-hpa, curl, lftp), against a server running as an
/// unprivileged user. Every answer is asserted; a client that got no protocol answer fails the case.
@Suite("S2 and S5 tables on every protocol", .blocking, .timeLimit(.minutes(10)))
struct ServeAccessTableTests {
    static let secret = ServeConfinementTests.secret
    static let user = (name: "nobody", group: "nogroup")

    /// The shared hostile paths, and ways into the sentinel tree beside the root through the root's links.
    static let hostilePaths = ServeConfinementTests.hostilePaths
        + ["linkdir/sentinel/a.cfg", "linkdir/sentinel/deep/b.cfg", "link.cfg", "../sentinel/a.cfg",
           "sub/../../sentinel/a.cfg", "%2e%2e/sentinel/a.cfg"]

    /// The codes each protocol may refuse a hostile path with (S1, S2): HTTP 400/403/404 (414 for a path that is
    /// too long), TFTP 1/2/4, FTP 550 (501/500 for a command it cannot parse or too long a line).
    static func refusals(_ wire: Wire) -> Set<Int> {
        switch wire {
        case .tftp: [1, 2, 4]
        case .http, .https: [400, 403, 404, 414]
        case .ftp, .ftps, .ftpActive: [500, 501, 550, 553]
        }
    }

    /// A server on a root with links out of it, beside a sentinel tree (and the secret) that it can write to:
    /// nothing but the owner's permissions would stop a write that escaped.
    static func start(_ configuration: String) throws -> ServerProcess {
        try ServerProcess(files: ["00156574b150.cfg": sipFile, "sub/inner.cfg": sipFile,
                                  "T23G_1/y000000000044.cfg": ServeLinkTests.protected],
                          configuration: configuration, user: user) { directory in
            let manager = FileManager.default
            try manager.createDirectory(at: directory.appendingPathComponent("sentinel/deep"),
                                        withIntermediateDirectories: true)
            try "sentinel a\n".write(to: directory.appendingPathComponent("sentinel/a.cfg"), atomically: true, encoding: .utf8)
            try "sentinel b\n".write(to: directory.appendingPathComponent("sentinel/deep/b.cfg"), atomically: true,
                                     encoding: .utf8)
            try secret.write(to: directory.appendingPathComponent("secret.cfg"), atomically: true, encoding: .utf8)
            let root = directory.appendingPathComponent("provisioning").path
            try manager.createSymbolicLink(atPath: root + "/link.cfg", withDestinationPath: directory.path + "/secret.cfg")
            try manager.createSymbolicLink(atPath: root + "/linkdir", withDestinationPath: directory.path)
        }
    }

    /// Every entry of the server's folder but its data folder and its output: the root, the sentinel tree, the
    /// secret, with sizes and modification times (nanoseconds), so any write that escaped shows.
    static func snapshot(_ server: ServerProcess) -> [String: String] {
        var entries: [String: String] = [:]
        let base = server.directory.path
        guard let walker = FileManager.default.enumerator(atPath: base) else { return [:] }
        for case let relative as String in walker where !relative.hasPrefix("data") && relative != "server.out" {
            var info = stat()
            guard lstat(base + "/" + relative, &info) == 0 else { continue }
            entries[relative] = "\(info.st_mode) \(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        }
        return entries
    }

    static let phones = ServeLinkTests.phones

    @Test("S2: every hostile path, read and written, is refused with the protocol's code or stays inside; the server answers after each; nothing outside the upload store changes",
          arguments: Wire.allCases)
    func hostilePaths(_ wire: Wire) throws {
        let server = try Self.start("[uploads]\nallow = [\"*\"]\n" + ServeFTPTests.configuration)
        let before = Self.snapshot(server)
        let account = wire.carriesCredentials ? Self.phones : nil
        let marker = "#!version:1.0.0.1\nescaped = 1\n"
        for path in Self.hostilePaths where Self.sendable(path, over: wire) {
            let read = try server.read(path, over: wire, as: account)
            // Refused; or, where the name stays inside (FTP stops `..` at its root), what this test uploaded there.
            #expect(read.code.map(Self.refusals(wire).contains) == true || read == .file(marker),
                    "\(wire) read \(path): \(read)")
            let written = try server.write(path, marker, over: wire, as: account)
            // A name that stays inside (a literal "..%2f" on TFTP, "~", a path FTP stops at its root) may be stored:
            // then only in the upload store, which the snapshot leaves out and the listing below shows.
            #expect(written == .stored || written.code.map(Self.refusals(wire).contains) == true,
                    "\(wire) write \(path): \(written)")
            #expect(try server.read("sub/inner.cfg", over: wire, as: account) == .file(sipFile), "\(wire) after \(path)")
        }
        #expect(Self.snapshot(server) == before)
        #expect(!ServerProcess.files(below: server.data.appendingPathComponent("uploads")).contains { $0.hasPrefix("..") })
        #expect(try server.servesAll("00156574b150.cfg", expecting: sipFile))
    }

    /// Paths a client cannot put on the wire as they are: tftp-hpa splits its command line at spaces and sends at
    /// most 512-byte requests; an FTP command line cannot hold NUL. (Raw datagrams and raw FTP commands carry
    /// them in ServeConfinementTests and ServeFTPTests.)
    static func sendable(_ path: String, over wire: Wire) -> Bool {
        switch wire {
        case .tftp: !path.contains(" ") && path.utf8.count < 400
        case .ftp, .ftps, .ftpActive: !path.contains("\u{0}") && path.utf8.count < 4000
        case .http, .https: true
        }
    }
}

/// S5 as a table: who asks, and what each protocol answers, for a protected directory's file and for an upload
/// into it, asked for by its own path and through a link in the root.
@Suite("S5 credential table on every protocol", .blocking, .serialized, .timeLimit(.minutes(10)))
struct ServeCredentialTableTests {
    struct Case: CustomStringConvertible {
        var description: String
        var account: Account?
        /// Whether the directory's own account is asking (else it is refused).
        var isOwner: Bool
    }

    static let owner = ServeLinkTests.owner
    static let cases: [Case] = [
        Case(description: "no credentials (FTP: anonymous)", account: nil, isOwner: false),
        Case(description: "the directory's account", account: owner, isOwner: true),
        Case(description: "the directory's account, HTTP Digest", account: Account(username: "user1", password: "secret1",
                                                                                   digest: true), isOwner: true),
        Case(description: "a wrong password", account: Account(username: "user1", password: "wrong"), isOwner: false),
        Case(description: "an empty password", account: Account(username: "user1", password: ""), isOwner: false),
        Case(description: "the user name in capitals", account: Account(username: "USER1", password: "secret1"), isOwner: false),
        Case(description: "another valid account", account: ServeLinkTests.phones, isOwner: false),
    ]

    /// What a refused case gets: TFTP carries no credentials (2); HTTP asks again (401); FTP refuses the file
    /// (550) to a session that logged in, and the login (530) to one whose password is wrong.
    static func refusal(_ wire: Wire, _ account: Account?) -> Int {
        switch wire {
        case .tftp: return 2
        case .http, .https: return 401
        case .ftp, .ftps, .ftpActive:
            guard let account else { return 550 }
            let valid = [ServeLinkTests.phones, owner].contains { $0.username == account.username && $0.password == account.password }
            return valid ? 550 : 530
        }
    }

    @Test("each case, read and written, by the directory's path and through a link", arguments: Wire.allCases)
    func credentialCases(_ wire: Wire) throws {
        let server = try ServerProcess(
            files: ["T23G_1/y000000000044.cfg": ServeLinkTests.protected, "00156574b150.cfg": sipFile],
            configuration: ServeFTPTests.configuration.replacingOccurrences(of: "[ftp]\n", with: "[ftp]\nanonymous = true\n"),
            user: ServeAccessTableTests.user) { directory in
            try FileManager.default.createSymbolicLink(atPath: directory.path + "/provisioning/open", withDestinationPath: "T23G_1")
        }
        var stored = 0
        for testCase in Self.cases {
            let account = wire.carriesCredentials ? testCase.account : nil
            for folder in ["T23G_1", "open"] {
                let read = try server.read("\(folder)/y000000000044.cfg", over: wire, as: account)
                stored += 1
                let name = String(format: "%@/0015650000%02d-local.cfg", folder, stored)
                let written = try server.write(name, "mine \(stored)\n", over: wire, as: account)
                if testCase.isOwner, wire.carriesCredentials {
                    #expect(read == .file(ServeLinkTests.protected), "\(wire), \(testCase), \(folder)")
                    #expect(written == .stored, "\(wire), \(testCase), \(folder)")
                    #expect(try server.read(name, over: .http, as: Self.owner) == .file("mine \(stored)\n"))
                } else {
                    let code = Self.refusal(wire, account)
                    #expect(read == .refused(code), "\(wire), \(testCase), \(folder)")
                    // An upload is refused the same way, except that anonymous FTP never uploads (550).
                    #expect(written == .refused(code), "\(wire), \(testCase), \(folder)")
                    #expect(try server.read(name, over: .http, as: Self.owner) == .refused(404), "\(wire), \(testCase)")
                }
                // A success from this address forgets its failures, so the cases do not slow each other down (S5).
                #expect(try server.read("T23G_1/y000000000044.cfg", over: .http, as: Self.owner) == .file(ServeLinkTests.protected))
            }
        }
        #expect(try server.servesAll("00156574b150.cfg", expecting: sipFile))
    }
}
