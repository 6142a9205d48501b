import Foundation
import Testing
import TestSupport

/// Files rendered from the inventory's templates, served by `autoprov serve` on every protocol (issue 14).
@Suite("Generated files over TFTP, HTTP, HTTPS, FTP and FTPS", .blocking, .serialized, .timeLimit(.minutes(5)))
struct ServeGeneratedTests {
    static let mac = "00156574b150"
    static let secret = "Zq8-secret"
    static let other = "00156574b151"
    static let otherSecret = "Other-secret-9"
    static let templates = [
        "defaults.cfg": "#!version:1.0.0.1\nauto_provision.server.url = {{server_url}}\nlocal_time.time_zone = +1\n",
        "models/T46S.cfg": "#!version:1.0.0.1\nlinekey.1.type = 15\n",
        "groups/sales.cfg": "#!version:1.0.0.1\naccount.1.label = Sales {{floor}}\naccount.1.user_name = {{user}}\n"
            + "account.1.password = {{sip_password}}\n",
    ]
    static let common = common(url: "http://prov.example/")
    /// The common file as served when `{{server_url}}` is `url`.
    static func common(url: String) -> String {
        "#!version:1.0.0.1\nauto_provision.server.url = \(url)\nlocal_time.time_zone = +1\nlinekey.1.type = 15\n"
    }

    /// `{{server_url}}` as a request over `wire` renders it: the URL an HTTP client reached (its `Host`), else
    /// `[inventory] server_url`.
    static func common(over wire: Wire, of server: ServerProcess) -> String {
        switch wire {
        case .http: common(url: server.http + "/")
        case .https: common(url: server.https + "/")
        default: common
        }
    }
    static func own(user: String) -> String {
        "#!version:1.0.0.1\naccount.1.label = Sales 2\naccount.1.user_name = \(user)\n"
            + "# account.1.password left out: it holds a secret that only its own device receives\n"
    }

    /// Runs the CLI against a data folder, failing the test when it fails.
    static func cli(_ arguments: [String], data: URL) throws {
        let result = try Client.run(CommandRunner.binary.path, arguments + ["--data", data.path], timeout: 60)
        guard result.status == 0 else { throw CLIError(description: "\(arguments): \(result.stderr)") }
    }

    struct CLIError: Error, CustomStringConvertible {
        var description: String
    }

    /// A server whose inventory has one T46S in group `sales`, with templates for every layer but the device's; the
    /// root also holds a `00156574b150.cfg` of its own, which the generated one hides.
    static func start(_ extra: String = "") throws -> ServerProcess {
        try ServerProcess(
            files: ["\(mac).cfg": sipFile, "y000000000066.cfg": sipFile, "other.cfg": sipFile],
            configuration: ServeFTPTests.configuration + "\n[inventory]\nserver_url = \"http://prov.example/\"\n" + extra
        ) { directory in
            let data = directory.appendingPathComponent("data")
            let folder = directory.appendingPathComponent("templates")
            for (path, text) in templates {
                let file = folder.appendingPathComponent(path)
                try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                try text.write(to: file, atomically: true, encoding: .utf8)
            }
            try cli(["group", "add", "sales", "--set", "floor=2"], data: data)
            try cli(["device", "add", mac, "--model", "SIP-T46S", "--group", "sales", "--set", "user=201",
                     "--set", "sip_password=\(secret)"], data: data)
            try cli(["device", "add", other, "--model", "T46S", "--group", "sales", "--set", "user=301",
                     "--set", "sip_password=\(otherSecret)"], data: data)
            try cli(["template", "import", folder.path], data: data)
        }
    }

    /// The generated file wins over the root's file of the same name, and the secret line is left out.
    @Test("a device's <mac>.cfg and its model's common file come from the templates, over every protocol",
          arguments: Wire.allCases)
    func servedEverywhere(_ wire: Wire) throws {
        let server = try Self.start()
        let account = wire.carriesCredentials ? ServeLinkTests.phones : nil
        #expect(try server.read("\(Self.mac).cfg", over: wire, as: account) == .file(Self.own(user: "201")))
        #expect(try server.read("y000000000066.cfg", over: wire, as: account) == .file(Self.common(over: wire, of: server)))
        // Files templates do not make still come from the root.
        #expect(try server.read("other.cfg", over: wire, as: account) == .file(sipFile))
        #expect(try server.read("00156574b152.cfg", over: wire, as: account).code != nil)
    }

    /// A device's own password, as `device show --with-secrets` prints it.
    static func password(_ mac: String, data: URL) throws -> String {
        let shown = try Client.run(CommandRunner.binary.path, ["device", "show", mac, "--with-secrets", "--data", data.path])
        let line = shown.stdout.split(separator: "\n").first { $0.hasPrefix("password ") }
        return String(line?.split(separator: " ").last ?? "")
    }

    static let whole = "#!version:1.0.0.1\naccount.1.label = Sales 2\naccount.1.user_name = 201\n"
        + "account.1.password = \(secret)\n"

    /// `[inventory] secrets = "device"`: a secret goes only to its own device, proven by its own credentials.
    @Test("the secret line goes whole only to the device's own credentials; no one else gets a byte of it",
          arguments: Wire.allCases)
    func secretsOnlyToTheirDevice(_ wire: Wire) throws {
        let server = try Self.start()
        let path = "\(Self.mac).cfg"
        let answers: [Answer]
        if wire.carriesCredentials {
            let own = Account(username: Self.mac, password: try Self.password(Self.mac, data: server.data))
            let others = Account(username: Self.other, password: try Self.password(Self.other, data: server.data))
            #expect(try server.read(path, over: wire, as: own) == .file(Self.whole))
            // Another device's valid credentials, an account of the site, a wrong password for this device.
            let foreign = try server.read(path, over: wire, as: others)
            let site = try server.read(path, over: wire, as: ServeLinkTests.phones)
            let wrong = try server.read(path, over: wire, as: Account(username: Self.mac, password: "guess"))
            #expect(foreign == .file(Self.own(user: "201")))
            #expect(site == .file(Self.own(user: "201")))
            // HTTP asks again (a phone with its credentials answers a 401); FTP refused the login.
            #expect(wrong == .refused(wire == .http || wire == .https ? 401 : 530), "\(wrong)")
            // Without credentials HTTP asks for them; FTP logins are the site's account above.
            if wire == .http || wire == .https {
                #expect(try server.read(path, over: wire) == .refused(401))
                let digest = Account(username: Self.mac, password: own.password, digest: true)
                #expect(try server.read(path, over: wire, as: digest) == .file(Self.whole))
            }
            answers = [foreign, site, wrong]
        } else {
            answers = [try server.read(path, over: wire)]
            #expect(answers == [.file(Self.own(user: "201"))])
        }
        for answer in answers {
            #expect(!answer.description.contains("secret") && !"\(answer)".contains(Self.otherSecret))
            if case .file(let text) = answer { #expect(!text.contains(Self.secret) && !text.contains(Self.otherSecret)) }
        }
        // Nor does a secret reach the server's log or the request log.
        #expect(server.stop() == 0)
        let logged = try CommandRunner.run(["log", "--data", server.data.path, "--limit", "1000"]).stdout
        #expect(!logged.isEmpty && !logged.contains(Self.secret) && !server.log.contains(Self.secret))
    }

    @Test("secrets = \"open\" sends the secret line to anyone, as other provisioning servers do")
    func openMode() throws {
        let server = try Self.start("secrets = \"open\"\n")
        #expect(try server.read("\(Self.mac).cfg", over: .tftp) == .file(Self.whole))
        // serve says how many devices that exposes.
        var warned = false
        for _ in 0..<100 where !warned {
            warned = server.log.contains("secrets = \"open\": 2 device(s) have secret lines served to anyone")
            if !warned { usleep(100_000) }
        }
        #expect(warned, "\(server.log)")
    }

    @Test("FTP SIZE says what RETR of a generated file sends: the redacted file to the site's account, the whole to the device")
    func ftpSize() throws {
        let server = try Self.start()
        let site = RawFTPClient(port: server.ftpPort)
        #expect(site.login("phones", "pw") == 230)
        #expect(site.send("SIZE \(Self.mac).cfg").text.hasPrefix("213 \(Self.own(user: "201").utf8.count)"))
        let own = RawFTPClient(port: server.ftpPort)
        #expect(own.login(Self.mac, try Self.password(Self.mac, data: server.data)) == 230)
        #expect(own.send("SIZE \(Self.mac).cfg").text.hasPrefix("213 \(Self.whole.utf8.count)"))
    }

    @Test("cache_mb = 0 keeps nothing rendered: every request renders the file again, byte for byte the same")
    func noCache() throws {
        let server = try Self.start("cache_mb = 0\n")
        for _ in 0..<3 {
            #expect(try server.read("\(Self.mac).cfg", over: .tftp) == .file(Self.own(user: "201")))
            #expect(try server.read("y000000000066.cfg", over: .http) == .file(Self.common(over: .http, of: server)))
        }
    }

    @Test("over HTTPS, a client certificate whose subject names the device's MAC proves it is the device")
    func clientCertificate() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-devcert-\(UUID())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let ca = try TestCA(in: work)
        try ca.issue("own", subject: "/O=Yealink/CN=00:15:65:74:B1:50")
        try ca.issue("other", subject: "/CN=\(Self.other)")
        let server = try Self.start("[https]\nclient_ca = \"\(ca.pem.path)\"\n")
        let url = "\(server.https)/\(Self.mac).cfg"
        func fetch(_ name: String) throws -> String {
            try Client.curl(["--cert", ca.certificate(name).path, "--key", ca.key(name).path, url]).body
        }
        #expect(try fetch("own") == Self.whole)
        let foreign = try fetch("other")
        #expect(foreign == Self.own(user: "201"))
        #expect(!foreign.contains(Self.secret))
    }

    @Test("a change made with the CLI while the server runs reaches the next request; other files keep their bytes")
    func changeReachesServer() throws {
        let server = try Self.start()
        let site = ["-u", "phones:pw"]
        let before = try Client.curl(site + ["-i", "\(server.http)/y000000000066.cfg"]).body
        try Self.cli(["device", "set", Self.mac, "user=202"], data: server.data)
        var served = ""
        for _ in 0..<100 {
            served = try Client.curl(site + ["\(server.http)/\(Self.mac).cfg"]).body
            if served == Self.own(user: "202") { break }
            usleep(100_000)
        }
        #expect(served == Self.own(user: "202"))
        let after = try Client.curl(site + ["-i", "\(server.http)/y000000000066.cfg"]).body
        let etag = { (head: String) in head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") } }
        #expect(etag(after) != nil && etag(after) == etag(before), "\(after)")
    }

    @Test("an inventory that generates nothing stands aside: the root serves every name, until templates imported while the server runs take over")
    func emptyInventoryStandsAside() throws {
        let server = try ServerProcess(
            files: ["\(Self.mac).cfg": sipFile, "y000000000066.cfg": sipFile],
            configuration: "[inventory]\nserver_url = \"http://prov.example/\"\n")
        #expect(try Client.curl(["\(server.http)/y000000000066.cfg"]).body == sipFile)
        #expect(try Client.curl(["\(server.http)/\(Self.mac).cfg"]).body == sipFile)
        let folder = server.directory.appendingPathComponent("templates")
        for (path, text) in Self.templates where !path.hasPrefix("groups/") {
            let file = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        try Self.cli(["template", "import", folder.path], data: server.data)
        let generated = Self.common(url: server.http + "/")
        var served = ""
        for _ in 0..<100 {
            served = try Client.curl(["\(server.http)/y000000000066.cfg"]).body
            if served == generated { break }
            usleep(100_000)
        }
        #expect(served == generated)
        // No device in the inventory: the root's <mac>.cfg still answers.
        #expect(try Client.curl(["\(server.http)/\(Self.mac).cfg"]).body == sipFile)
    }
}
