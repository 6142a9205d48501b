import Foundation
import Testing

/// S2 and S5 as tables: one list of hostile paths and one of credential cases, each run over TFTP, HTTP, HTTPS,
/// FTP and FTPS, reads and writes, with real clients (tftp-hpa, curl, lftp), against a server running as an
/// unprivileged user. Every answer is asserted; a client that got no protocol answer fails the case.
@Suite("S2 and S5 tables on every protocol", .timeLimit(.minutes(10)))
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
        case .ftp, .ftps: [500, 501, 550, 553]
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
        case .ftp, .ftps: !path.contains("\u{0}") && path.utf8.count < 4000
        case .http, .https: true
        }
    }
}
