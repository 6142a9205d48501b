import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `autoprov serve` started for real on free loopback ports, with its own root and data folder.
final class ServerProcess {
    let directory: URL
    let process = Process()
    let output: URL
    private(set) var tftpPort = 0
    private(set) var httpPort = 0
    private(set) var httpsPort = 0
    private(set) var ftpPort = 0
    private(set) var pnpPort = 0
    private(set) var adminPort = 0

    var root: URL { directory.appendingPathComponent("provisioning") }
    var data: URL { directory.appendingPathComponent("data") }

    /// Starts a server on `files` (paths relative to the root); `configuration` is extra TOML. With `user`, the
    /// server runs as that unprivileged user (and its group), owning its folder, as it would be deployed; `prepare`
    /// runs first, to lay out more of the folder.
    init(files: [String: String] = [:], configuration: String = "", arguments: [String] = [],
         user: (name: String, group: String)? = nil, prepare: (URL) throws -> Void = { _ in }) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("provisioning"),
                                                withIntermediateDirectories: true)
        output = directory.appendingPathComponent("server.out")
        for (path, text) in files { try write(path, text) }
        let config = directory.appendingPathComponent("autoprov.toml")
        try Self.withOwnPassivePorts(configuration).write(to: config, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.executableURL = CommandRunner.binary
        process.arguments = ["serve", "--config", config.path, "--root", root.path, "--data", data.path,
                             "--tftp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--https", "127.0.0.1:0",
                             "--ftp", "127.0.0.1:0", "--pnp", "127.0.0.1:0", "--admin", "127.0.0.1:0"] + arguments
        process.standardOutput = handle
        process.standardError = handle
        try prepare(directory)
        if let user {
            let owned = try Client.run("chown", ["-R", "\(user.name):\(user.group)", directory.path], timeout: 30)
            guard owned.status == 0 else { throw ServerStartError(log: "chown: \(owned.stderr)") }
        }
        try Children.start(process, as: user)
        try waitForListeners(arguments: arguments)
    }

    private static let serversStarted = Atomic<Int>(0)

    /// The configuration with an FTP passive range of this server's own (100 ports, unless the test set one), so
    /// that servers of suites running side by side never compete for the same ports.
    static func withOwnPassivePorts(_ configuration: String) -> String {
        guard !configuration.contains("passive_ports") else { return configuration }
        let low = 40_000 + serversStarted.add(1, ordering: .relaxed).oldValue % 200 * 100
        let setting = "passive_ports = \"\(low)-\(low + 99)\""
        var lines = configuration.components(separatedBy: "\n")
        if let table = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "[ftp]" }) {
            lines.insert(setting, at: table + 1)
            return lines.joined(separator: "\n")
        }
        return configuration + "\n[ftp]\n" + setting + "\n"
    }

    func write(_ path: String, _ text: String) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    func writeBytes(_ path: String, _ bytes: Data) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try bytes.write(to: url)
    }

    var log: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    private func waitForListeners(arguments: [String]) throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            var ports: [String: Int] = [:]
            for line in log.split(separator: "\n") {
                // "autoprov: HTTP listening on 127.0.0.1:PORT; give phones …"
                guard line.hasPrefix("autoprov: "), let range = line.range(of: " listening on 127.0.0.1:") else { continue }
                let name = line[line.index(line.startIndex, offsetBy: 10)..<range.lowerBound]
                ports[String(name)] = Int(line[range.upperBound...].prefix(while: \.isNumber)) ?? 0
            }
            (tftpPort, httpPort, httpsPort) = (ports["TFTP"] ?? 0, ports["HTTP"] ?? 0, ports["HTTPS"] ?? 0)
            (ftpPort, pnpPort, adminPort) = (ports["FTP"] ?? 0, ports["PnP"] ?? 0, ports["admin"] ?? 0)
            // A listener turned off by the test's own arguments is not waited for.
            let off = Set(zip(arguments, arguments.dropFirst()).filter { $0.1 == "off" }.map { $0.0 })
            let wanted = ["TFTP", "HTTP", "HTTPS", "FTP", "PnP", "admin"].filter { !off.contains("--\($0.lowercased())") }
            if wanted.allSatisfy({ (ports[$0] ?? 0) > 0 }) { return }
            if !process.isRunning { break }
            usleep(50_000)
        }
        throw ServerStartError(log: log)
    }

    struct ServerStartError: Error, CustomStringConvertible {
        let log: String
        var description: String { "server did not start:\n\(log)" }
    }

    /// The count of a protective event in `/metrics` (`autoprov_events_total{event="…"}`); 0 before the first.
    func event(_ name: String) throws -> Int {
        let page = try Client.curl(["\(http)/metrics"]).body
        let series = "autoprov_events_total{event=\"\(name)\"} "
        return page.split(separator: "\n").first { $0.hasPrefix(series) }.flatMap { Int($0.dropFirst(series.count)) } ?? 0
    }

    var http: String { "http://127.0.0.1:\(httpPort)" }
    var https: String { "https://127.0.0.1:\(httpsPort)" }
    var tftp: String { "tftp://127.0.0.1:\(tftpPort)" }
    var ftpHostPort: String { "127.0.0.1:\(ftpPort)" }
    var pnpHostPort: String { "127.0.0.1:\(pnpPort)" }

    /// SIGTERM, then the exit status.
    @discardableResult
    func stop() -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        // A server that has not drained within 30 s is killed; -1 tells the test that expected 0. What each of its
        // threads was doing is written to the test's error output first: a hang seen once is then explained.
        guard process.finish(within: 30, beforeKill: { ServerProcess.dumpThreads($0) }) else { return -1 }
        return process.terminationStatus
    }

    /// Every thread's stack of the process `pid`, by gdb where it is installed, to standard error.
    static func dumpThreads(_ pid: Int32) {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb"),
              let dump = try? Client.run("gdb", ["-p", "\(pid)", "-batch", "-ex", "thread apply all bt 30"], timeout: 60)
        else { return }
        FileHandle.standardError.write(Data("server \(pid) did not stop within 30 s of SIGTERM; its threads:\n\(dump.stdout)\n".utf8))
    }

    func kill9() {
        process.killGroup()
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning {
            process.killGroup()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Runs a client program from Debian's packages (curl, tftp, atftp).
enum Client {
    static func run(_ program: String, _ arguments: [String], in directory: URL? = nil,
                    input: String? = nil, timeout: Double = 120) throws -> CommandRunner.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        if let directory { process.currentDirectoryURL = directory }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-client-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("out"), errURL = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        if let input {
            let inURL = scratch.appendingPathComponent("in")
            try input.write(to: inURL, atomically: true, encoding: .utf8)
            process.standardInput = try FileHandle(forReadingFrom: inURL)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.runAndWait(timeout: timeout)
        try out.close()
        try err.close()
        return CommandRunner.Result(status: process.terminationStatus,
                                    stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                                    stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    /// `curl -s` with the HTTP status printed last, on its own line. curl gets `-m 15` unless the test set its own
    /// limit, and is killed (the call throws) a few seconds after it: a server that never answers fails the test.
    static func curl(_ arguments: [String]) throws -> (status: Int, body: String, exit: Int32) {
        let given = zip(arguments, arguments.dropFirst()).first { $0.0 == "-m" || $0.0 == "--max-time" }
        let limit = given.flatMap { Double($0.1) } ?? 15
        let result = try run("curl", ["-s", "-k", "-w", "\n%{http_code}"] + (given == nil ? ["-m", "15"] : [])
                             + arguments, timeout: limit + 3)
        var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.popLast() ?? "") ?? 0
        return (status, lines.joined(separator: "\n"), result.status)
    }
}

/// Binds a test's socket to a local IPv4 address (another loopback address, say) and a port the kernel picks.
func bindLocal(_ socket: Int32, to address: String) {
    var local = sockaddr_in()
    local.sin_family = sa_family_t(AF_INET)
    local.sin_addr.s_addr = inet_addr(address)
    _ = withUnsafePointer(to: &local) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
}

/// A raw UDP peer on loopback (TFTP and SIP tests): hostile datagrams, floods, and a client that stops answering.
final class RawUDPPeer {
    let socket: Int32
    let port: UInt16

    /// A peer of the server at `serverPort`, sending from `source` (another loopback address, say) when given.
    init(serverPort: Int, source: String? = nil) {
        socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        port = UInt16(serverPort)
        if let source { bindLocal(socket, to: source) }
    }

    deinit { close(socket) }

    /// The port this peer's socket is bound to (the kernel picks one at the first send, or here).
    var localPort: Int {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                // Bind once to a free loopback port; a socket already bound keeps its port (EINVAL is ignored).
                _ = bind(socket, address, length)
                return getsockname(socket, address, &length)
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func send(_ bytes: [UInt8], to destinationPort: UInt16? = nil) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = (destinationPort ?? port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(socket, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// One datagram and the port it came from, or nil after `timeoutMilliseconds` (the socket's 3 s by default).
    func receive(timeoutMilliseconds: Int? = nil) -> ([UInt8], UInt16)? {
        if let timeoutMilliseconds {
            var ready = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, Int32(timeoutMilliseconds)) == 1 else { return nil }
        }
        var buffer = [UInt8](repeating: 0, count: 70_000)
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let count = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                recvfrom(socket, &buffer, buffer.count, 0, $0, &length)
            }
        }
        guard count >= 0 else { return nil }
        return (Array(buffer.prefix(count)), UInt16(bigEndian: address.sin_port))
    }

    static func request(_ opcode: UInt8, _ filename: [UInt8], mode: String = "octet") -> [UInt8] {
        [0, opcode] + filename + [0] + Array(mode.utf8) + [0]
    }
}
