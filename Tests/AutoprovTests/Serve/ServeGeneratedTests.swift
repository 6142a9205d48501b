import Foundation
import Testing

/// Files rendered from the inventory's templates, served by `autoprov serve` on every protocol (issue 14).
@Suite("Generated files over TFTP, HTTP, HTTPS, FTP and FTPS", .serialized, .timeLimit(.minutes(5)))
struct ServeGeneratedTests {
    static let mac = "00156574b150"
    static let secret = "Zq8-secret"
    static let templates = [
        "defaults.cfg": "#!version:1.0.0.1\nauto_provision.server.url = {{server_url}}\nlocal_time.time_zone = +1\n",
        "models/T46S.cfg": "#!version:1.0.0.1\nlinekey.1.type = 15\n",
        "groups/sales.cfg": "#!version:1.0.0.1\naccount.1.label = Sales {{floor}}\naccount.1.user_name = {{user}}\n"
            + "account.1.password = {{sip_password}}\n",
    ]
    static let common = "#!version:1.0.0.1\nauto_provision.server.url = http://prov.example/\nlocal_time.time_zone = +1\n"
        + "linekey.1.type = 15\n"
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
        #expect(try server.read("y000000000066.cfg", over: wire, as: account) == .file(Self.common))
        // Files templates do not make still come from the root.
        #expect(try server.read("other.cfg", over: wire, as: account) == .file(sipFile))
        #expect(try server.read("00156574b151.cfg", over: wire, as: account).code != nil)
    }

    @Test("a change made with the CLI while the server runs reaches the next request; other files keep their bytes")
    func changeReachesServer() throws {
        let server = try Self.start()
        let before = try Client.curl(["-i", "\(server.http)/y000000000066.cfg"]).body
        try Self.cli(["device", "set", Self.mac, "user=202"], data: server.data)
        var served = ""
        for _ in 0..<100 {
            served = try Client.curl(["\(server.http)/\(Self.mac).cfg"]).body
            if served == Self.own(user: "202") { break }
            usleep(100_000)
        }
        #expect(served == Self.own(user: "202"))
        let after = try Client.curl(["-i", "\(server.http)/y000000000066.cfg"]).body
        let etag = { (head: String) in head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") } }
        #expect(etag(after) != nil && etag(after) == etag(before), "\(after)")
    }
}
