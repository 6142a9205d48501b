import Foundation
import Testing
import TestSupport

/// S2 with raw TFTP datagrams: names no client sends (NUL bytes, absolute paths, 5,000 bytes). The shared list of
/// hostile paths runs over every protocol with real clients in ServeAccessTableTests.
@Suite("Confinement (S2) on raw TFTP RRQ and WRQ", .blocking, .serialized, .timeLimit(.minutes(5)))
struct ServeConfinementTests {
    static let secret = "SECRET-OUTSIDE-THE-ROOT"

    /// Paths as sent on HTTP (percent-encoded where shown); TFTP sends them raw.
    static let hostilePaths = [
        "../secret.cfg", "../../secret.cfg", "..%2fsecret.cfg", "%2e%2e/secret.cfg", "%2e%2e%2fsecret.cfg",
        "..%5csecret.cfg", "..\\secret.cfg", "sub/../../secret.cfg", "sub/%2e%2e/%2e%2e/secret.cfg", "/etc/passwd",
        "%2fetc%2fpasswd", "link.cfg", "linkdir/secret.cfg", "secret.cfg%00.cfg", "%00", "....//secret.cfg",
        ".%2e/secret.cfg", "%252e%252e/secret.cfg", String(repeating: "a", count: 5000), "./../secret.cfg",
        "..;/secret.cfg", "%c0%ae%c0%ae/secret.cfg", "..%c0%afsecret.cfg", ".versions/x", "sub/./../../secret.cfg",
        "%2e%2e%5csecret.cfg", "..%255csecret.cfg", "\\..\\secret.cfg", "sub/..%00/secret.cfg", "~/secret.cfg",
        "..", ".", "sub/..", "%2e%2e", "sub%2f..%2f..%2fsecret.cfg",
    ]

    static func start() throws -> ServerProcess {
        let server = try ServerProcess(
            files: ["sip.cfg": sipFile, "sub/inner.cfg": sipFile],
            configuration: "[uploads]\nallow = [\"*-local.cfg\", \"*.cfg\", \"passwd\", \"*\"]\n")
        try secret.write(to: server.directory.appendingPathComponent("secret.cfg"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: server.root.appendingPathComponent("link.cfg").path,
            withDestinationPath: server.directory.appendingPathComponent("secret.cfg").path)
        try FileManager.default.createSymbolicLink(atPath: server.root.appendingPathComponent("linkdir").path,
                                                   withDestinationPath: server.directory.path)
        return server
    }

    /// Every file below the server's folder that is outside the root and the data folder.
    static func filesOutside(_ server: ServerProcess) -> Set<String> {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: server.directory.path)) ?? []
        return Set(names).subtracting(["provisioning", "data", "autoprov.toml", "server.out", "secret.cfg", "body"])
    }

    @Test("TFTP RRQ: hostile names (raw, with NUL bytes and absolute paths) get an error, never the secret")
    func tftpRead() throws {
        let server = try Self.start()
        var names = Self.hostilePaths.map { Array($0.utf8) }
        names.append(Array((server.directory.path + "/secret.cfg").utf8))
        names.append(Array("secret.cfg".utf8) + [0x00] + Array("x".utf8))
        names.append(Array("..".utf8) + [0x2F] + Array("secret.cfg".utf8))
        for name in names {
            let client = RawUDPPeer(serverPort: server.tftpPort)
            client.send(RawUDPPeer.request(1, name))
            let (reply, _) = try #require(client.receive(), "\(String(decoding: name, as: UTF8.self))")
            // Error 1 (not found: a plain name inside), 2 (access violation) or 4 (malformed), nothing else.
            #expect([[0, 5, 0, 1], [0, 5, 0, 2], [0, 5, 0, 4]].contains(Array(reply.prefix(4))),
                    "\(String(decoding: name, as: UTF8.self))")
            #expect(!String(decoding: reply, as: UTF8.self).contains(Self.secret))
        }
        #expect(try Client.run("curl", ["-s", "\(server.tftp)/sub/inner.cfg"]).stdout == sipFile)
    }

    @Test("TFTP WRQ: hostile names write nothing outside")
    func tftpWrite() throws {
        let server = try Self.start()
        var accepted: [String] = []
        for path in Self.hostilePaths {
            let client = RawUDPPeer(serverPort: server.tftpPort)
            client.send(RawUDPPeer.request(2, Array(path.utf8)))
            let (reply, port) = try #require(client.receive(), "\(path)")
            if reply.prefix(4) == [0, 4, 0, 0] {
                accepted.append(path)
                client.send([0, 3, 0, 1] + Array("#!version:1.0.0.1\nevil = 1\n".utf8), to: port)
                _ = client.receive()
            } else {
                #expect(Array(reply.prefix(4)) == [0, 5, 0, 2] || Array(reply.prefix(4)) == [0, 5, 0, 4], "\(path)")
            }
        }
        // Only names that stay inside (a literal '%2e%2e' name, '~', '....' are plain names there) are stored.
        #expect(accepted.allSatisfy { !$0.hasPrefix("..") && !$0.contains("/../") }, "\(accepted)")
        #expect(Self.filesOutside(server).isEmpty, "\(Self.filesOutside(server))")
        #expect(try String(contentsOf: server.directory.appendingPathComponent("secret.cfg"), encoding: .utf8) == Self.secret)
    }
}

@Suite("Request log, devices and lifecycle", .blocking, .serialized, .timeLimit(.minutes(5)))
struct ServeLifecycleTests {
    @Test("every request is logged with the device from the User-Agent or the file name; devices and log list them")
    func requestLog() throws {
        let server = try ServerProcess(files: ["y000000000028.cfg": sipFile, "00156574b150.cfg": sipFile])
        _ = try Client.curl(["-A", "Yealink SIP-T46G 28.81.0.110 00:15:65:4a:a9:37", "\(server.http)/y000000000028.cfg"])
        _ = try Client.run("curl", ["-s", "\(server.tftp)/00156574b150.cfg"])
        _ = try Client.run("curl", ["-s", "\(server.tftp)/00156574b150.boot"])
        #expect(server.stop() == 0)
        let devices = try CommandRunner.run(["devices", "--data", server.data.path])
        #expect(devices.status == 0, "\(devices.stderr)")
        let lines = devices.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("MAC") == true)
        #expect(lines.contains { $0.hasPrefix("0015654aa937") && $0.contains("T46G") && $0.contains("28.81.0.110") })
        #expect(lines.contains { $0.hasPrefix("00156574b150") && $0.contains("00156574b150.boot") && $0.contains("not-found") })
        let log = try CommandRunner.run(["log", "--data", server.data.path, "--mac", "00:15:65:74:B1:50"])
        #expect(log.stdout.split(separator: "\n").count == 3, "\(log.stdout)")
        #expect(log.stdout.contains("tftp"))
        #expect(try CommandRunner.run(["log", "--data", server.data.path, "--limit", "1"]).stdout
            .split(separator: "\n").count == 2)
    }

    @Test("SIGTERM: every listener refuses new clients during the drain, the transfer in flight ends whole, exit 0")
    func gracefulShutdown() throws {
        let firmware = String(repeating: "autoprov", count: 3 * 1024 * 1024)
        let server = try ServerProcess(files: ["sip.cfg": sipFile, "T46-28.81.0.110.rom": firmware])
        #expect(try Client.curl(["\(server.http)/sip.cfg"]).status == 200)
        // A reader that takes nothing yet keeps the drain going: 24 MiB cannot fit in the socket buffers.
        let slow = RawConnection(port: server.httpPort, timeoutSeconds: 10)
        slow.send("GET /T46-28.81.0.110.rom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(eventually { TCPTable.sendQueueBytes(localPort: server.httpPort) > 0 })
        kill(server.process.processIdentifier, SIGTERM)
        for (name, port) in [("HTTP", server.httpPort), ("HTTPS", server.httpsPort), ("FTP", server.ftpPort)] {
            #expect(eventually { !RawConnection(port: port).connected }, "\(name) still accepts during the drain")
        }
        let probe = RawUDPPeer(serverPort: server.tftpPort)
        #expect(eventually {
            probe.send(RawUDPPeer.request(1, Array("sip.cfg".utf8)))
            return probe.receive(timeoutMilliseconds: 300) == nil
        }, "TFTP still answers during the drain")
        #expect(server.process.isRunning, "the drain waits for the reader")
        let received = String(decoding: slow.readAll(), as: UTF8.self)
        #expect(received.hasPrefix("HTTP/1.1 200"))
        #expect(received.hasSuffix(firmware))
        #expect(server.stop() == 0)
    }

    /// The highest port that needs privileges here: one below `ip_unprivileged_port_start` (1024 where the file
    /// cannot be read). Nil when that start is 0 or 1, where any user may bind every port and nothing can be refused.
    static let privilegedProbePort: Int? = {
        let file = "/proc/sys/net/ipv4/ip_unprivileged_port_start"
        let text = (try? String(contentsOfFile: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        let start = text.flatMap { Int($0) } ?? 1024
        return start >= 2 ? start - 1 : nil
    }()

    @Test("a privileged port without privileges: the error names the way out",
          .enabled(if: privilegedProbePort != nil,
                   "ip_unprivileged_port_start is 0 or 1 here: any user may bind any port, so none can be refused"))
    func privilegedPort() throws {
        let port = try #require(Self.privilegedProbePort)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-priv-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: directory.path)
        defer { try? FileManager.default.removeItem(at: directory) }
        let arguments = ["serve", "--admin", "off", "--root", directory.appendingPathComponent("p").path, "--data",
                         directory.appendingPathComponent("d").path, "--tftp", "off", "--https", "off", "--ftp", "off",
                         "--http", "127.0.0.1:\(port)"]
        let result: CommandRunner.Result
        if getuid() == 0 {
            result = try Client.run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                CommandRunner.binary.path] + arguments)
        } else {
            result = try CommandRunner.run(arguments)
        }
        #expect(result.status != 0)
        #expect(result.stderr.contains("permission denied"), "\(result.stderr)")
        #expect(result.stderr.contains("8080"))
        #expect(result.stderr.contains("setcap cap_net_bind_service"))
    }

    @Test("a second server on a port already served is refused, not silently sharing its connections")
    func portInUse() throws {
        let first = try ServerProcess(files: ["sip.cfg": sipFile])
        let directory = first.directory
        let second = try CommandRunner.run([
            "serve", "--admin", "off", "--root", first.root.path, "--data", directory.appendingPathComponent("second").path,
            "--tftp", "off", "--https", "off", "--ftp", "off", "--http", "127.0.0.1:\(first.httpPort)"])
        #expect(second.status != 0)
        #expect(second.stderr.contains("already in use"), "\(second.stderr)")
        #expect(try Client.curl(["\(first.http)/sip.cfg"]).body == sipFile)
        #expect(first.stop() == 0)
    }

    @Test("a second server on the ports of a running one exits at once, naming the protocol and port, on every listener")
    func secondServer() throws {
        let first = try ServerProcess(files: ["sip.cfg": sipFile])
        let ports = [("TFTP", first.tftpPort), ("HTTP", first.httpPort), ("HTTPS", first.httpsPort), ("FTP", first.ftpPort)]
        // Each listener alone, then all of them as the same configuration would start them.
        for (name, port) in ports {
            var arguments = ["serve", "--admin", "off", "--root", first.root.path, "--data", first.directory.appendingPathComponent("second").path,
                             "--pnp", "off"]
            for (other, _) in ports where other != name { arguments += ["--\(other.lowercased())", "off"] }
            arguments += ["--\(name.lowercased())", "127.0.0.1:\(port)"]
            let second = try CommandRunner.run(arguments, timeout: 30)
            #expect(second.status != 0, "\(name): \(second.stderr)")
            #expect(second.stderr.contains("\(name) on 127.0.0.1:\(port)") && second.stderr.contains("already in use"),
                    "\(name): \(second.stderr)")
        }
        let all = try CommandRunner.run(["serve", "--admin", "off", "--root", first.root.path, "--data",
                                         first.directory.appendingPathComponent("third").path, "--pnp", "off"]
                                        + ports.flatMap { ["--\($0.0.lowercased())", "127.0.0.1:\($0.1)"] }, timeout: 30)
        #expect(all.status != 0)
        #expect(all.stderr.contains("already in use"), "\(all.stderr)")
        // The first one is untouched: it serves on every protocol and stops cleanly.
        #expect(try Client.curl(["\(first.http)/sip.cfg"]).body == sipFile)
        #expect(try Client.run("curl", ["-s", "\(first.tftp)/sip.cfg"]).stdout == sipFile)
        #expect(first.stop() == 0)
    }

    @Test("the open-file limit is raised to the hard limit at start (systemd's soft 1,024 would cap connections)")
    func descriptorLimit() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-nofile-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        server.arguments = ["--nofile=1024:8192", "--", CommandRunner.binary.path, "serve",
                            "--root", directory.appendingPathComponent("p").path,
                            "--data", directory.appendingPathComponent("d").path, "--tftp", "off", "--https", "off",
                            "--ftp", "off", "--pnp", "off", "--http", "127.0.0.1:0"]
        server.standardOutput = try FileHandle(forWritingTo: output)
        server.standardError = server.standardOutput
        try Children.start(server)
        defer { server.killGroup() }
        #expect(eventually(within: 30) { ((try? String(contentsOf: output, encoding: .utf8)) ?? "").contains("HTTP listening") })
        let limits = try String(contentsOfFile: "/proc/\(server.processIdentifier)/limits", encoding: .utf8)
        let line = limits.split(separator: "\n").first { $0.hasPrefix("Max open files") } ?? ""
        #expect(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).prefix(2) == ["8192", "8192"],
                "\(line)")
    }

    @Test("with no root, an example root is created that lint accepts")
    func exampleRoot() throws {
        let server = try ServerProcess()
        try FileManager.default.removeItem(at: server.root)
        server.stop()
        let second = Process()
        second.executableURL = CommandRunner.binary
        second.arguments = ["serve", "--admin", "off", "--root", server.root.path, "--data", server.data.path, "--tftp", "off",
                            "--https", "off", "--ftp", "off", "--http", "127.0.0.1:0"]
        let output = server.directory.appendingPathComponent("second.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        second.standardOutput = try FileHandle(forWritingTo: output)
        try Children.start(second)
        // Stopped once it serves (the example root is made before that, and SIGTERM is handled from then on).
        #expect(eventually(within: 30) {
            ((try? String(contentsOf: output, encoding: .utf8)) ?? "").contains("HTTP listening on")
        })
        second.terminate()
        #expect(second.finish(within: 30))
        #expect(second.terminationStatus == 0)
        let lint = try CommandRunner.run(["lint", server.root.path])
        #expect(FileManager.default.fileExists(atPath: server.root.appendingPathComponent("y000000000000.boot").path))
        #expect(lint.status == 0, "\(lint.stdout)")
    }

    @Test("a bad configuration file names the file and line; an unknown key is refused")
    func badConfiguration() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-config-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("autoprov.toml")
        try "root = \"p\"\n[tftp]\nlisten = 0.0.0.0:69\n".write(to: file, atomically: true, encoding: .utf8)
        let syntax = try CommandRunner.run(["serve", "--admin", "off", "--config", file.path])
        #expect(syntax.status == 2)
        #expect(syntax.stderr.contains("autoprov.toml:3:"), "\(syntax.stderr)")
        try "root = \"p\"\n[tftp]\nlisen = \"0.0.0.0:69\"\n".write(to: file, atomically: true, encoding: .utf8)
        let unknown = try CommandRunner.run(["serve", "--admin", "off", "--config", file.path])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("unknown key 'tftp.lisen'"), "\(unknown.stderr)")
    }
}
