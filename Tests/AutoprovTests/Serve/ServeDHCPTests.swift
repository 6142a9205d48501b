import Foundation
import Testing
#if canImport(Glibc)
import Glibc
import TestSupport
#endif

/// Two network namespaces joined by a veth pair: autoprov's DHCP server on one side (192.0.2.1/24), clients on the
/// other. Made and removed by each test (root only, as in CI).
final class DHCPLab {
    let serverSpace: String
    let clientSpace: String
    let serverInterface: String
    let clientInterface: String
    /// With a relay: the namespace between server and clients, running dhcrelay.
    let relaySpace: String?
    let directory: URL
    private var server: Process?
    private var relay: Process?

    private static let counter = Counter()

    /// Server and clients on one link (192.0.2.0/24); or, with `relay`, the server on 10.9.0.0/24 and the clients
    /// behind a relay agent (dhcrelay) whose client-side address is 192.0.2.1.
    init(relay: Bool = false) throws {
        let tag = "\(getpid() % 10000)x\(DHCPLab.counter.next())"
        serverSpace = "apd-s\(tag)"
        clientSpace = "apd-c\(tag)"
        serverInterface = "aps\(tag)"
        clientInterface = "apc\(tag)"
        relaySpace = relay ? "apd-r\(tag)" : nil
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-dhcp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("root"), withIntermediateDirectories: true)
        var commands = [
            ["netns", "add", serverSpace], ["netns", "add", clientSpace],
            ["-n", serverSpace, "link", "set", "lo", "up"], ["-n", clientSpace, "link", "set", "lo", "up"],
        ]
        if let relaySpace {
            commands += [
                ["netns", "add", relaySpace], ["-n", relaySpace, "link", "set", "lo", "up"],
                ["link", "add", serverInterface, "netns", serverSpace, "type", "veth", "peer", "name", "rs\(tag)",
                 "netns", relaySpace],
                ["link", "add", "rc\(tag)", "netns", relaySpace, "type", "veth", "peer", "name", clientInterface,
                 "netns", clientSpace],
                ["-n", serverSpace, "addr", "add", "10.9.0.1/24", "dev", serverInterface],
                ["-n", relaySpace, "addr", "add", "10.9.0.2/24", "dev", "rs\(tag)"],
                ["-n", relaySpace, "addr", "add", "192.0.2.1/24", "dev", "rc\(tag)"],
                ["-n", relaySpace, "link", "set", "rs\(tag)", "up"], ["-n", relaySpace, "link", "set", "rc\(tag)", "up"],
                ["-n", serverSpace, "link", "set", serverInterface, "up"],
                ["-n", serverSpace, "route", "add", "192.0.2.0/24", "via", "10.9.0.2"],
            ]
        } else {
            commands += [
                ["link", "add", serverInterface, "netns", serverSpace, "type", "veth", "peer", "name", clientInterface,
                 "netns", clientSpace],
                ["-n", serverSpace, "addr", "add", "192.0.2.1/24", "dev", serverInterface],
                ["-n", serverSpace, "link", "set", serverInterface, "up"],
            ]
        }
        commands.append(["-n", clientSpace, "link", "set", clientInterface, "up"])
        for command in commands {
            let result = try Client.run("ip", command)
            guard result.status == 0 else { throw LabError(description: "ip \(command): \(result.stderr)") }
        }
        if let relaySpace {
            // dhcrelay in the foreground: clients on rc<tag> (giaddr 192.0.2.1), the server upstream.
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["ip", "netns", "exec", relaySpace, "dhcrelay", "-4", "-d", "-q", "-id", "rc\(tag)",
                                 "-iu", "rs\(tag)", "10.9.0.1"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try Children.start(process)
            self.relay = process
            // Ready once it has bound the BOOTP server port in its namespace.
            eventually {
                ((try? Client.run("ip", ["netns", "exec", relaySpace, "ss", "-Hlun", "sport = :67"]))?.stdout ?? "")
                    .contains(":67")
            }
        }
    }

    deinit {
        stopServer()
        if let relay {
            kill(relay.processIdentifier, SIGTERM)
            relay.finish(within: 10)
        }
        for space in [serverSpace, clientSpace] + (relaySpace.map { [$0] } ?? []) {
            _ = try? Client.run("ip", ["netns", "del", space])
        }
        try? FileManager.default.removeItem(at: directory)
    }

    struct LabError: Error, CustomStringConvertible {
        var description: String
    }

    final class Counter: @unchecked Sendable {
        // Only read under the lock: tests in parallel each take the next number.
        private var value = 0
        private let lock = NSLock()

        func next() -> Int {
            lock.withLock {
                value += 1
                return value
            }
        }
    }

    static func configuration(pool: String, interface: String, extra: String = "") -> String {
        """
        [dhcp]
        enabled = true
        interface = "\(interface)"
        pool = "\(pool)"
        router = "192.0.2.1"
        dns = ["192.0.2.53"]
        lease_seconds = 3600
        option66 = "http://192.0.2.1:8080/"
        option43 = "http://192.0.2.1:8080/43"
        custom_option = 160
        custom_value = "http://192.0.2.1:8080/$PN/$MAC"
        \(extra)
        """
    }

    var log: String { (try? String(contentsOf: directory.appendingPathComponent("server.out"), encoding: .utf8)) ?? "" }

    /// Starts `autoprov serve` with only DHCP, in the server's namespace; returns once it listens (or has exited).
    @discardableResult
    func startServer(pool: String = "192.0.2.10-192.0.2.250", extra: String = "", http: String = "off") throws -> Bool {
        let file = directory.appendingPathComponent("autoprov.toml")
        try DHCPLab.configuration(pool: pool, interface: serverInterface, extra: extra)
            .write(to: file, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("server.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", serverSpace, CommandRunner.binary.path, "serve", "--config", file.path,
                             "--root", directory.appendingPathComponent("root").path,
                             "--data", directory.appendingPathComponent("data").path,
                             "--tftp", "off", "--http", http, "--https", "off", "--ftp", "off", "--pnp", "off"]
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try Children.start(process)
        server = process
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, process.isRunning, !log.contains("DHCP listening") { usleep(20_000) }
        return log.contains("DHCP listening")
    }

    /// SIGTERM, then the exit status.
    @discardableResult
    func stopServer() -> Int32 {
        guard let server else { return 0 }
        self.server = nil
        if server.isRunning { kill(server.processIdentifier, SIGTERM) }
        // Not drained within 30 s: killed, and -1 tells the test that expected 0.
        guard server.finish(within: 30) else { return -1 }
        return server.terminationStatus
    }

    /// Runs `arguments` in the client namespace.
    func client(_ arguments: [String]) throws -> CommandRunner.Result {
        try Client.run("ip", ["netns", "exec", clientSpace] + arguments, in: directory)
    }

    /// The load client's `<mac> <address>` lines.
    func load(_ arguments: [String]) throws -> [(mac: String, address: String)] {
        let binary = CommandRunner.binary.deletingLastPathComponent().appendingPathComponent("dhcp-load").path
        let result = try client([binary, "--interface", clientInterface] + arguments)
        return result.stdout.split(separator: "\n").map { line in
            let words = line.split(separator: " ")
            return (String(words.first ?? ""), String(words.last ?? ""))
        }
    }
}

@Suite("autoprov serve: the built-in DHCPv4 server (RFC 2131/2132), real clients in network namespaces", .blocking, .serialized,
       .enabled(if: getuid() == 0, "needs root for ip netns and port 67 (CI runs as root)"), .timeLimit(.minutes(5)))
struct ServeDHCPTests {
    @Test("udhcpc and dhclient get an address from the pool and see options 66, 43 and 160; `devices` lists the lease")
    func realClients() throws {
        let lab = try DHCPLab()
        #expect(try lab.startServer(), "\(lab.log)")
        let script = lab.directory.appendingPathComponent("udhcpc.sh")
        // Written whole, then renamed: the test sees the file only once the script has finished writing it.
        try "#!/bin/sh\nenv > \(lab.directory.path)/udhcpc-$1.tmp && mv \(lab.directory.path)/udhcpc-$1.tmp \(lab.directory.path)/udhcpc-$1.env\n"
            .write(to: script, atomically: true, encoding: .utf8)
        chmod(script.path, 0o755)
        let udhcpc = try lab.client(["busybox", "udhcpc", "-i", lab.clientInterface, "-f", "-q", "-n", "-t", "3", "-T", "1",
                                     "-O", "66", "-O", "43", "-O", "160", "-s", script.path])
        #expect(udhcpc.status == 0, "\(udhcpc.stderr)\n\(lab.log)")
        let bound = Self.environment(try String(contentsOf: lab.directory.appendingPathComponent("udhcpc-bound.env"), encoding: .utf8))
        let address = try #require(bound["ip"])
        #expect(Self.inPool(address), "\(address)")
        #expect(bound["router"] == "192.0.2.1" && bound["dns"] == "192.0.2.53" && bound["lease"] == "3600")
        #expect(bound["opt43"] == Self.hex("http://192.0.2.1:8080/43"))
        #expect(bound["opt160"] == Self.hex("http://192.0.2.1:8080/$PN/$MAC"))
        // busybox accepts option 66 only as a host name and says "bad" for a URL: it arrived, dhclient shows it.
        #expect(bound["tftp"] != nil)

        try """
            option autoprov-url code 160 = text;
            request subnet-mask, routers, domain-name-servers, tftp-server-name, vendor-encapsulated-options, autoprov-url;
            """.write(to: lab.directory.appendingPathComponent("dhclient.conf"), atomically: true, encoding: .utf8)
        try "#!/bin/sh\nenv > \(lab.directory.path)/dhclient-$reason.tmp && mv \(lab.directory.path)/dhclient-$reason.tmp \(lab.directory.path)/dhclient-$reason.env\n"
            .write(to: lab.directory.appendingPathComponent("dhclient.sh"), atomically: true, encoding: .utf8)
        chmod(lab.directory.appendingPathComponent("dhclient.sh").path, 0o755)
        let file = { (name: String) in lab.directory.appendingPathComponent(name).path }
        _ = FileManager.default.createFile(atPath: file("dhclient.leases"), contents: nil)
        // In the foreground (-d): a daemonized dhclient would keep running after the test.
        let dhclient = Process()
        dhclient.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        dhclient.arguments = ["ip", "netns", "exec", lab.clientSpace, "dhclient", "-d", "-1", "-cf", file("dhclient.conf"),
                              "-sf", file("dhclient.sh"), "-lf", file("dhclient.leases"), "-pf", file("dhclient.pid"),
                              lab.clientInterface]
        dhclient.standardOutput = FileHandle.nullDevice
        dhclient.standardError = FileHandle.nullDevice
        try Children.start(dhclient)
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, dhclient.isRunning, !FileManager.default.fileExists(atPath: file("dhclient-BOUND.env")) {
            usleep(20_000)
        }
        kill(dhclient.processIdentifier, SIGTERM)
        dhclient.finish(within: 10)
        let leased = Self.environment(try String(contentsOf: lab.directory.appendingPathComponent("dhclient-BOUND.env"), encoding: .utf8))
        // The same interface, so the same MAC: the same address.
        #expect(leased["new_ip_address"] == address)
        #expect(leased["new_tftp_server_name"] == "http://192.0.2.1:8080/")
        #expect(leased["new_vendor_encapsulated_options"] == "http://192.0.2.1:8080/43")
        #expect(leased["new_autoprov_url"]?.replacingOccurrences(of: "\\", with: "") == "http://192.0.2.1:8080/$PN/$MAC")

        // udhcpc once more: the lease now carries its vendor class again.
        #expect(try lab.client(["busybox", "udhcpc", "-i", lab.clientInterface, "-f", "-q", "-n", "-t", "3", "-T", "1",
                                "-s", script.path]).status == 0)
        #expect(lab.stopServer() == 0)
        let devices = try CommandRunner.run(["devices", "--data", lab.directory.appendingPathComponent("data").path])
        // The lease's row: its address and the vendor class udhcpc sent last (dhclient sends none).
        let row = try #require(devices.stdout.split(separator: "\n").first { $0.contains("\(address) until") }, "\(devices.stdout)")
        // udhcpc's vendor class is "udhcp <busybox's version>": the installed one's, read from its banner
        // ("BusyBox v1.35.0 (Debian 1:1.35.0-4+b3) multi-call binary.").
        let banner = try Client.run("busybox", ["--help"])
        let version = try #require((banner.stdout + banner.stderr).split(separator: " ").first { $0.hasPrefix("v") }
            .map { String($0.dropFirst()) }, "\(banner.stdout)")
        #expect(row.hasSuffix("udhcp \(version)"), "\(row)")
        let log = try CommandRunner.run(["log", "--data", lab.directory.appendingPathComponent("data").path])
        #expect(log.stdout.contains("dhcp") && log.stdout.contains("(udhcp \(version))") && log.stdout.contains("acknowledged"),
                "\(log.stdout)")
    }

    @Test("a phone the inventory does not know: its lease names its MAC, the common file it asks for next its model; it is added pending")
    func pendingFromLease() throws {
        let lab = try DHCPLab()
        #expect(try lab.startServer(http: "192.0.2.1:8080"), "\(lab.log)")
        let script = lab.directory.appendingPathComponent("bind.sh")
        // The phone takes the address it was offered, as a phone does (a plain udhcpc script only reports it).
        try "#!/bin/sh\n[ \"$1\" = bound ] && ip addr add \"$ip/24\" dev \"$interface\"\nexit 0\n"
            .write(to: script, atomically: true, encoding: .utf8)
        chmod(script.path, 0o755)
        let udhcpc = try lab.client(["busybox", "udhcpc", "-i", lab.clientInterface, "-f", "-q", "-n", "-t", "3", "-T", "1",
                                     "-s", script.path])
        #expect(udhcpc.status == 0, "\(udhcpc.stderr)\n\(lab.log)")
        let link = try lab.client(["ip", "-br", "link", "show", lab.clientInterface]).stdout.split(separator: " ")
            .filter { !$0.isEmpty }
        let mac = try #require(link.count > 2 ? link[2].replacingOccurrences(of: ":", with: "").lowercased() : nil)
        let address = try lab.client(["ip", "-br", "-4", "addr", "show", lab.clientInterface]).stdout
            .split(separator: " ").first { $0.contains("/") }.map { String($0.split(separator: "/")[0]) }
        #expect(address.map(ServeDHCPTests.inPool) == true, "\(address ?? "no address")")
        // A T46S's common file (R7.1), no User-Agent: only the lease can say whose request it is.
        let fetched = try lab.client(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-A", "", "--max-time", "10",
                                      "http://192.0.2.1:8080/y000000000066.cfg"])
        #expect(fetched.stdout == "404", "\(fetched.stdout)\(fetched.stderr)")
        let data = lab.directory.appendingPathComponent("data").path
        var pending = ""
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            pending = try CommandRunner.run(["device", "list", "--state", "pending", "--format", "csv", "--data", data]).stdout
            if pending.contains(mac) { break }
            usleep(100_000)
        }
        #expect(pending.contains("\(mac),T46S,seen at \(address ?? "?"),,pending"), "\(pending)\n\(lab.log)")
        #expect(lab.stopServer() == 0)
    }

    @Test("eight udhcpc clients at once, each on its own MAC (macvlan), get eight distinct leases with option 66")
    func severalRealClientsAtOnce() throws {
        let lab = try DHCPLab()
        let count = 8
        let interfaces = (1...count).map { "mv\($0)" }
        for (index, name) in interfaces.enumerated() {
            let mac = String(format: "00:15:65:aa:00:%02x", index + 1)
            for command in [["-n", lab.clientSpace, "link", "add", name, "link", lab.clientInterface, "address", mac,
                             "type", "macvlan", "mode", "bridge"],
                            ["-n", lab.clientSpace, "link", "set", name, "up"]] {
                #expect(try Client.run("ip", command).status == 0, "\(command)")
            }
        }
        #expect(try lab.startServer(), "\(lab.log)")
        let script = lab.directory.appendingPathComponent("udhcpc.sh")
        try "#!/bin/sh\nenv > \(lab.directory.path)/$interface-$1.tmp && mv \(lab.directory.path)/$interface-$1.tmp \(lab.directory.path)/$interface-$1.env\n"
            .write(to: script, atomically: true, encoding: .utf8)
        chmod(script.path, 0o755)
        // All at once, as phones booting after a power cut.
        let clients = try interfaces.map { name in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["ip", "netns", "exec", lab.clientSpace, "busybox", "udhcpc", "-i", name, "-f", "-q", "-n",
                                 "-t", "5", "-T", "1", "-O", "66", "-s", script.path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try Children.start(process)
            return process
        }
        for client in clients { #expect(client.finish(within: 30) && client.terminationStatus == 0) }
        let leases = try interfaces.map { name in
            Self.environment(try String(contentsOf: lab.directory.appendingPathComponent("\(name)-bound.env"), encoding: .utf8))
        }
        let addresses = leases.compactMap { $0["ip"] }
        #expect(addresses.count == count && Set(addresses).count == count, "\(addresses)")
        #expect(addresses.allSatisfy(Self.inPool), "\(addresses)")
        #expect(leases.allSatisfy { $0["tftp"] != nil && $0["router"] == "192.0.2.1" })
        #expect(lab.stopServer() == 0)
        let devices = try CommandRunner.run(["devices", "--data", lab.directory.appendingPathComponent("data").path])
        for address in addresses { #expect(devices.stdout.contains("\(address) until"), "\(devices.stdout)") }
    }

    @Test("200 clients get 200 distinct leases; after a restart each client keeps its address")
    func twoHundredClientsAndRestart() throws {
        let lab = try DHCPLab()
        #expect(try lab.startServer(), "\(lab.log)")
        let first = try lab.load(["--clients", "200"])
        #expect(first.count == 200)
        #expect(first.allSatisfy { Self.inPool($0.address) }, "\(first.filter { !Self.inPool($0.address) })")
        #expect(Set(first.map(\.address)).count == 200)
        #expect(lab.stopServer() == 0)
        #expect(try lab.startServer(), "\(lab.log)")
        let again = try lab.load(["--clients", "200"])
        #expect(again.map(\.address) == first.map(\.address))
        // A new client gets none of those addresses.
        let newcomer = try lab.load(["--clients", "1", "--first", "1000"])
        #expect(newcomer.count == 1 && Self.inPool(newcomer[0].address) && !first.map(\.address).contains(newcomer[0].address))
    }

    @Test("hostile datagrams are ignored and a flood from one MAC is held to a burst; others are still served")
    func hostileAndFlood() throws {
        let lab = try DHCPLab()
        #expect(try lab.startServer(), "\(lab.log)")
        let flood = try lab.client([CommandRunner.binary.deletingLastPathComponent().appendingPathComponent("dhcp-load").path,
                                    "--interface", lab.clientInterface, "--hostile", "--flood", "200", "--first", "7"])
        let offers = try #require(flood.stdout.split(separator: "\n").first { $0.hasPrefix("offers ") })
        let count = try #require(Int(offers.dropFirst("offers ".count)))
        #expect((1...20).contains(count), "\(count) offers to 200 DISCOVERs")
        let others = try lab.load(["--clients", "5", "--first", "100"])
        #expect(others.count == 5 && others.allSatisfy { Self.inPool($0.address) })
        #expect(lab.stopServer() == 0)
    }

    @Test("it answers on its interface only: a client on another interface of the same host gets nothing")
    func otherInterfaceIgnored() throws {
        let lab = try DHCPLab()
        let (serverSide, clientSide) = ("aso\(lab.serverInterface.dropFirst(3))", "aco\(lab.clientInterface.dropFirst(3))")
        for command in [
            ["link", "add", serverSide, "netns", lab.serverSpace, "type", "veth", "peer", "name", clientSide,
             "netns", lab.clientSpace],
            ["-n", lab.serverSpace, "addr", "add", "198.51.100.1/24", "dev", serverSide],
            ["-n", lab.serverSpace, "link", "set", serverSide, "up"], ["-n", lab.clientSpace, "link", "set", clientSide, "up"],
        ] {
            #expect(try Client.run("ip", command).status == 0, "\(command)")
        }
        #expect(try lab.startServer(), "\(lab.log)")
        let binary = CommandRunner.binary.deletingLastPathComponent().appendingPathComponent("dhcp-load").path
        let elsewhere = try lab.client([binary, "--interface", clientSide, "--clients", "2"])
        #expect(elsewhere.stdout.split(separator: "\n").allSatisfy { $0.hasSuffix(" -") }, "\(elsewhere.stdout)")
        #expect(elsewhere.stdout.split(separator: "\n").count == 2)
        // The configured interface is served all along.
        #expect(try lab.load(["--clients", "1"]).first?.address == "192.0.2.10")
    }

    @Test("through a relay agent (dhcrelay, giaddr): the pool on the relay's network, answers to the relay")
    func relayAgent() throws {
        let lab = try DHCPLab(relay: true)
        #expect(try lab.startServer(pool: "192.0.2.100-192.0.2.150", extra: "relayed = true\nsubnet_mask = \"255.255.255.0\""),
                "\(lab.log)")
        let leases = try lab.load(["--clients", "3"])
        #expect(leases.map(\.address) == ["192.0.2.100", "192.0.2.101", "192.0.2.102"], "\(leases)\n\(lab.log)")
        #expect(lab.stopServer() == 0)
    }

    @Test("a pool that runs out: no offer, and a log line")
    func exhaustedPool() throws {
        let lab = try DHCPLab()
        #expect(try lab.startServer(pool: "192.0.2.10-192.0.2.11"))
        let leases = try lab.load(["--clients", "3"])
        #expect(leases.map(\.address) == ["192.0.2.10", "192.0.2.11", "-"])
        lab.stopServer()
        #expect(lab.log.contains("the pool is exhausted"), "\(lab.log)")
    }

    @Test("it will not start without an interface and a pool, on a missing interface, or with a pool off the network")
    func refusals() throws {
        let lab = try DHCPLab()
        let cases: [(String, String, String)] = [
            ("192.0.2.10-192.0.2.20", "interface = \"\"", "dhcp.interface is required"),
            ("", "", "dhcp.pool is required"),
            ("10.0.0.10-10.0.0.20", "", "is not on"),
            ("192.0.2.20-192.0.2.10", "", "comes after"),
            ("192.0.2.1-192.0.2.20", "", "own address"),
        ]
        for (pool, extra, message) in cases {
            var text = DHCPLab.configuration(pool: pool, interface: lab.serverInterface)
            if !extra.isEmpty { text = text.replacingOccurrences(of: "interface = \"\(lab.serverInterface)\"", with: extra) }
            let file = lab.directory.appendingPathComponent("bad.toml")
            try text.write(to: file, atomically: true, encoding: .utf8)
            let result = try Client.run("ip", ["netns", "exec", lab.serverSpace, CommandRunner.binary.path, "serve",
                                               "--config", file.path, "--root", lab.directory.appendingPathComponent("root").path,
                                               "--data", lab.directory.appendingPathComponent("data").path, "--tftp", "off",
                                               "--http", "off", "--https", "off", "--ftp", "off", "--pnp", "off"])
            #expect(result.status == 2, "\(pool): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(pool): \(result.stderr)")
        }
        let missing = DHCPLab.configuration(pool: "192.0.2.10-192.0.2.20", interface: "nosuch0")
        try missing.write(to: lab.directory.appendingPathComponent("missing.toml"), atomically: true, encoding: .utf8)
        let result = try Client.run("ip", ["netns", "exec", lab.serverSpace, CommandRunner.binary.path, "serve", "--config",
                                           lab.directory.appendingPathComponent("missing.toml").path,
                                           "--root", lab.directory.appendingPathComponent("root").path,
                                           "--data", lab.directory.appendingPathComponent("data").path,
                                           "--tftp", "off", "--http", "off", "--https", "off", "--ftp", "off", "--pnp", "off"])
        #expect(result.status == 2 && result.stderr.contains("'nosuch0' does not exist"), "\(result.stderr)")
    }

    static func environment(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }

    static func hex(_ text: String) -> String {
        text.utf8.map { String(format: "%02x", $0) }.joined()
    }

    static func inPool(_ address: String) -> Bool {
        let parts = address.split(separator: ".").compactMap { Int($0) }
        return parts.count == 4 && parts[0...2] == [192, 0, 2] && (10...250).contains(parts[3])
    }
}
