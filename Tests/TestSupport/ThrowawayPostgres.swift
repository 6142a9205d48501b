import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL cluster of its own for a test: made with `initdb` in a temporary folder (as the `postgres` user when
/// the tests run as root, which PostgreSQL refuses to be), listening on a free loopback port, trusting local logins,
/// removed by ``stop()``. No system service is needed: Debian's `postgresql` package brings the programs.
public final class ThrowawayPostgres: @unchecked Sendable {
    public let directory: URL
    public let port: Int
    private var server: Process?
    private var tlsOptions: [String] = []
    /// What logins need, if anything.
    private var password: String?

    /// The server's certificate (PEM), when it speaks TLS.
    public var certificate: String { directory.appendingPathComponent("server.crt").path }
    private var stopped = false

    /// `postgresql://autoprov@127.0.0.1:PORT/NAME`: a database of the cluster (``createDatabase(_:)``).
    public func url(_ name: String) -> String { "postgresql://autoprov@127.0.0.1:\(port)/\(name)?sslmode=disable" }

    /// With `tls`, the server also speaks TLS with a self-signed certificate for 127.0.0.1 (``certificate``); with
    /// `password`, logins need it (SCRAM), else every local login is trusted.
    public init(tls: Bool = false, password: String? = nil) throws {
        // In memory where there is a tmpfs: a cluster's files (initdb writes some 40 MB) then cost the disk nothing,
        // and the tests beside it do not wait behind their write-back.
        let parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        directory = URL(fileURLWithPath: parent).appendingPathComponent("autoprov-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try ThrowawayPostgres.freePort()
        if getuid() == 0 { try ThrowawayPostgres.run("/bin/chown", ["postgres:postgres", directory.path]) }
        let data = directory.appendingPathComponent("data").path
        var authentication = ["--auth=trust"]
        if let password {
            let file = directory.appendingPathComponent("password").path
            try password.write(toFile: file, atomically: true, encoding: .utf8)
            if getuid() == 0 { try ThrowawayPostgres.run("/bin/chown", ["postgres:postgres", file]) }
            authentication = ["--auth=scram-sha-256", "--pwfile=\(file)"]
        }
        try asOwner(ThrowawayPostgres.program("initdb"), ["-D", data, "-U", "autoprov", "--no-sync", "-E", "UTF8",
                                                          "--locale=C.UTF-8"] + authentication)
        self.password = password
        if tls {
            let (certificate, key) = (self.certificate, directory.appendingPathComponent("server.key").path)
            try ThrowawayPostgres.run("/usr/bin/openssl", [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", certificate,
            ])
            try ThrowawayPostgres.run("/bin/chmod", ["600", key])
            if getuid() == 0 { try ThrowawayPostgres.run("/bin/chown", ["postgres:postgres", key, certificate]) }
            tlsOptions = ["-c", "ssl=on", "-c", "ssl_cert_file=\(certificate)", "-c", "ssl_key_file=\(key)"]
        }
        try start()
    }

    /// Starts the server (again, after ``pause()``) on the cluster's port, and waits until it answers.
    public func start() throws {
        let data = directory.appendingPathComponent("data").path
        // The server runs as a child of the test, in its session (not as a daemon, as pg_ctl would start it), so
        // that whatever ends a test run that hangs ends it too.
        let server = Process()
        server.executableURL = URL(fileURLWithPath: getuid() == 0 ? "/usr/sbin/runuser" : ThrowawayPostgres.program("postgres"))
        server.arguments = (getuid() == 0 ? ["-u", "postgres", "--", ThrowawayPostgres.program("postgres")] : []) + [
            "-D", data, "-p", "\(port)", "-k", directory.path, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
            "-c", "full_page_writes=off",
        ] + tlsOptions
        let log = FileHandle(forWritingAtPath: "/dev/null")
        server.standardOutput = log
        server.standardError = log
        try server.run()
        self.server = server
        // Ready once it accepts a query (at most a minute).
        for attempt in 0..<600 {
            if (try? ThrowawayPostgres.run(ThrowawayPostgres.program("psql"), [
                "-h", "127.0.0.1", "-p", "\(port)", "-U", "autoprov", "-d", "postgres", "-c", "SELECT 1",
            ], password: password)) != nil { return }
            guard server.isRunning, attempt < 599 else { break }
            usleep(100_000)
        }
        stop()
        throw Failure(description: "the PostgreSQL server in \(directory.path) did not start")
    }

    /// Stops the server at once (SIGQUIT, as a crash or a cut would), keeping the cluster for ``start()``.
    public func pause() {
        let pidFile = directory.appendingPathComponent("data/postmaster.pid")
        if let text = try? String(contentsOf: pidFile, encoding: .utf8), let pid = Int32(text.prefix { $0 != "\n" }) {
            kill(pid, SIGQUIT)
        }
        server?.waitUntilExit()
        server = nil
    }

    /// Creates an empty database in the cluster.
    public func createDatabase(_ name: String) throws {
        try ThrowawayPostgres.run(ThrowawayPostgres.program("psql"), [
            "-h", "127.0.0.1", "-p", "\(port)", "-U", "autoprov", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
            "-c", "CREATE DATABASE \(name)",
        ], password: password)
    }

    /// Stops the cluster at once (SIGQUIT: the immediate shutdown) and removes its folder.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        pause()
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    private func asOwner(_ program: String, _ arguments: [String]) throws {
        if getuid() == 0 {
            try ThrowawayPostgres.run("/usr/sbin/runuser", ["-u", "postgres", "--", program] + arguments)
        } else {
            try ThrowawayPostgres.run(program, arguments)
        }
    }

    /// A PostgreSQL program: from Debian's versioned folder (the newest), else from the PATH.
    static func program(_ name: String) -> String {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
            let path = "/usr/lib/postgresql/\(version)/bin/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return "/usr/bin/\(name)"
    }

    private static func run(_ program: String, _ arguments: [String], password: String? = nil) throws {
        let process = Process()
        if let password { process.environment = ProcessInfo.processInfo.environment.merging(["PGPASSWORD": password]) { $1 } }
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "\(program) \(arguments.joined(separator: " ")): exit \(process.terminationStatus)\n"
                          + String(decoding: text, as: UTF8.self))
        }
    }

    /// A loopback port nothing listens on now.
    private static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(description: "socket: \(errno)") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) }
        }
        guard bound == 0 else { throw Failure(description: "bind: \(errno)") }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }
}
