import Foundation
import TestSupport
import Testing

/// Several `autoprov serve` processes on one PostgreSQL (`[store] url`, issue 17): the inventory is the database's,
/// whichever node or CLI writes it.
@Suite("Several nodes on one PostgreSQL ([store] url)", .blocking, .serialized, .timeLimit(.minutes(5)))
struct ServeStoreTests {
    static let mac = "00156574b150"

    /// Runs the CLI with a node's configuration and data folder; its output, or the test fails.
    @discardableResult
    static func cli(_ arguments: [String], node: ServerProcess, config: Bool = true) throws -> String {
        let configuration = config ? ["--config", node.directory.appendingPathComponent("autoprov.toml").path] : []
        let result = try CommandRunner.run(arguments + ["--data", node.data.path] + configuration, timeout: 60)
        guard result.status == 0 else { throw Failure(description: "\(arguments): \(result.stderr)") }
        return result.stdout
    }

    /// A throwaway cluster with an empty database `fleet`.
    static func fleetCluster() throws -> ThrowawayPostgres {
        let cluster = try ThrowawayPostgres()
        do { try cluster.createDatabase("fleet") } catch {
            cluster.stop()
            throw error
        }
        return cluster
    }

    /// The `[store]` table naming the cluster's `fleet` database.
    static func store(_ cluster: ThrowawayPostgres) -> String { "[store]\nurl = \"\(cluster.url("fleet"))\"\n" }

    /// The CLI's output once `done` holds (within 20 s), else its last output.
    static func eventually(_ arguments: [String], node: ServerProcess, _ done: (String) -> Bool) throws -> String {
        var output = ""
        for _ in 0..<100 {
            output = try cli(arguments, node: node)
            if done(output) { break }
            usleep(200_000)
        }
        return output
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// What `url` serves once it contains `text` (within 10 s), else what it served last.
    static func served(_ url: String, containing text: String) throws -> String {
        var body = ""
        for _ in 0..<100 {
            body = try Client.curl([url]).body
            if body.contains(text) { break }
            usleep(100_000)
        }
        return body
    }

    @Test("two nodes on one PostgreSQL: a device added through one node's CLI and templates imported through the other's reach the phones of both at once, by notification; neither data folder holds the inventory")
    func twoNodes() throws {
        let cluster = try Self.fleetCluster()
        defer { cluster.stop() }
        // The nodes look at the revision once an hour: what reaches them within seconds came by notification.
        let configuration = Self.store(cluster) + "poll_seconds = 3600\n"
        let a = try ServerProcess(files: ["y000000000066.cfg": sipFile, "\(Self.mac).cfg": sipFile],
                                  configuration: configuration)
        let b = try ServerProcess(files: ["y000000000066.cfg": sipFile, "\(Self.mac).cfg": sipFile],
                                  configuration: configuration)
        // Before anything is written, the root answers on both.
        #expect(try Client.curl(["\(a.http)/\(Self.mac).cfg"]).body == sipFile)
        try Self.cli(["device", "add", Self.mac, "--model", "T46S", "--set", "desk=Front desk"], node: b)
        let folder = a.directory.appendingPathComponent("templates")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("devices"), withIntermediateDirectories: true)
        try "#!version:1.0.0.1\nlocal_time.time_zone = +1\n"
            .write(to: folder.appendingPathComponent("defaults.cfg"), atomically: true, encoding: .utf8)
        try "#!version:1.0.0.1\naccount.1.label = {{desk}}\n"
            .write(to: folder.appendingPathComponent("devices/\(Self.mac).cfg"), atomically: true, encoding: .utf8)
        try Self.cli(["template", "import", folder.path], node: a)
        for node in [a, b] {
            #expect(try Self.served("\(node.http)/y000000000066.cfg", containing: "local_time.time_zone = +1")
                        .contains("local_time.time_zone = +1"))
            #expect(try Self.served("\(node.http)/\(Self.mac).cfg", containing: "Front desk")
                        .contains("account.1.label = Front desk"))
        }
        // A change through node A's CLI reaches node B's phones.
        try Self.cli(["device", "set", Self.mac, "desk=Back office"], node: a)
        #expect(try Self.served("\(b.http)/\(Self.mac).cfg", containing: "Back office").contains("account.1.label = Back office"))
        // Both CLIs list the same device; a data folder without the configuration holds no inventory of its own.
        #expect(try Self.cli(["device", "list"], node: a).contains(Self.mac))
        #expect(try Self.cli(["device", "list"], node: b).contains(Self.mac))
        #expect(try !Self.cli(["device", "list"], node: a, config: false).contains(Self.mac))
        // One set of administrators' tokens: one made through A's CLI opens B's API, and revoked, no longer does.
        let token = try Self.cli(["admin", "token", "create", "--name", "deploy", "--role", "read"], node: a)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let asked = { try Client.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "30", "-H",
                                              "Authorization: Bearer \(token)",
                                              "http://127.0.0.1:\(b.adminPort)/api/v1/devices"]).stdout }
        #expect(try asked() == "200")
        #expect(try !Self.cli(["admin", "token", "list"], node: a, config: false).contains("deploy"))
        try Self.cli(["admin", "token", "revoke", "deploy"], node: b)
        #expect(try asked() == "401")
        // One request log: what a phone asked of either node shows in `autoprov log` and `devices` on both.
        _ = try Client.curl(["-A", "Yealink SIP-T46S 66.86.0.15 00:15:65:74:b1:51", "\(a.http)/00156574b151.cfg"])
        _ = try Client.curl(["-A", "Yealink SIP-T54W 96.86.0.100 00:15:65:74:b1:52", "\(b.http)/00156574b152.cfg"])
        for node in [a, b] {
            let log = try Self.eventually(["log", "--limit", "100"], node: node) {
                $0.contains("/00156574b151.cfg") && $0.contains("/00156574b152.cfg")
            }
            #expect(log.contains("/00156574b151.cfg") && log.contains("/00156574b152.cfg"), "\(log)")
            let devices = try Self.eventually(["devices"], node: node) { $0.contains("T46S") && $0.contains("T54W") }
            #expect(devices.contains("00156574b151") && devices.contains("96.86.0.100"), "\(devices)")
        }
        #expect(a.stop() == 0 && b.stop() == 0)
    }

    @Test("a store URL that is not PostgreSQL's, or a database that cannot be reached, stops serve with a message that names it")
    func badStore() throws {
        let cluster = try ThrowawayPostgres()
        let url = cluster.url("fleet")
        cluster.stop()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-store-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("autoprov.toml")
        try "[store]\nurl = \"mysql://x@y/z\"\n".write(to: config, atomically: true, encoding: .utf8)
        let badURL = try CommandRunner.run(["device", "list", "--config", config.path, "--data", directory.path])
        #expect(badURL.status != 0 && badURL.stderr.contains("store.url must be a postgresql://"), "\(badURL.stderr)")
        try "[store]\nurl = \"\(url)\"\n".write(to: config, atomically: true, encoding: .utf8)
        let down = try CommandRunner.run(["device", "list", "--config", config.path, "--data", directory.path])
        #expect(down.status == 2 && down.stderr.contains("[store] url"), "\(down.stderr)")
    }

    @Test("store migrate copies a data folder's inventory, accounts, tokens and uploads (every version) into PostgreSQL and back, every row the same; a store that holds an inventory is refused")
    func migrate() throws {
        let cluster = try Self.fleetCluster()
        defer { cluster.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-migrate-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // A data folder an embedded server filled with uploads: one name three times, one in a folder once.
        let server = try ServerProcess()
        for (name, text) in [("\(Self.mac)-local.cfg", "first\n"), ("\(Self.mac)-local.cfg", "second\n"),
                             ("\(Self.mac)-local.cfg", "third\n"), ("T46S/00156574b151-local.cfg", "other\n")] {
            #expect(try server.write(name, text, over: .http) == .stored)
        }
        #expect(server.stop() == 0)
        let data = server.data.path
        func run(_ arguments: [String]) throws -> CommandRunner.Result { try CommandRunner.run(arguments, timeout: 60) }
        #expect(try run(["group", "add", "sales", "--set", "floor=2", "--data", data]).status == 0)
        #expect(try run(["device", "add", Self.mac, "--model", "T46S", "--group", "sales", "--data", data]).status == 0)
        let password = directory.appendingPathComponent("password")
        try "correct horse battery\n".write(to: password, atomically: true, encoding: .utf8)
        #expect(try run(["admin", "user", "add", "alice", "--role", "write", "--password-file", password.path,
                         "--data", data]).status == 0)
        #expect(try run(["admin", "token", "create", "--name", "deploy", "--role", "write", "--data", data]).status == 0)
        let folder = directory.appendingPathComponent("templates")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try "#!version:1.0.0.1\nlocal_time.time_zone = +1\n"
            .write(to: folder.appendingPathComponent("defaults.cfg"), atomically: true, encoding: .utf8)
        #expect(try run(["template", "import", folder.path, "--data", data]).status == 0)
        let sqlite = "sqlite:\(data)/inventory.sqlite"
        let there = try run(["store", "migrate", "--from", sqlite, "--to", cluster.url("fleet")])
        #expect(there.status == 0 && there.stdout.contains("copied 1 devices, 1 groups, 1 template versions")
                    && there.stdout.contains("1 accounts, 1 tokens; 2 uploads (4 versions); 4 requests, 2 devices seen"),
                "\(there.stdout) \(there.stderr)")
        // The same again is refused: the target holds uploads and an inventory now.
        let again = try run(["store", "migrate", "--from", sqlite, "--to", cluster.url("fleet")])
        #expect(again.status == 2 && again.stderr.contains("already holds"), "\(again.stderr)")
        // And back into a new data folder: the devices, groups, templates, accounts, tokens and uploads as they were.
        let back = directory.appendingPathComponent("back")
        try FileManager.default.createDirectory(at: back, withIntermediateDirectories: true)
        let returned = try run(["store", "migrate", "--from", cluster.url("fleet"), "--to", "sqlite:\(back.path)/inventory.sqlite"])
        #expect(returned.status == 0 && returned.stdout.contains("2 uploads (4 versions)"), "\(returned.stderr)")
        for command in [["device", "list", "--with-secrets"], ["group", "list"], ["template", "list"],
                        ["admin", "user", "list"], ["admin", "token", "list"], ["log", "--limit", "100"], ["devices"]] {
            let original = try run(command + ["--data", data])
            let copied = try run(command + ["--data", back.path])
            let expected = ["template": "defaults.cfg", "admin": command.contains("user") ? "alice" : "deploy",
                            "log": "T46S/00156574b151-local.cfg", "devices": Self.mac][command[0]] ?? "sales"
            #expect(original.status == 0 && original.stdout == copied.stdout && original.stdout.contains(expected),
                    "\(command): \(original.stdout) / \(copied.stdout)")
        }
        let uploads = back.appendingPathComponent("uploads")
        #expect(ServerProcess.files(below: uploads).filter { !$0.hasPrefix(".") } == ["00156574b150-local.cfg", "T46S/00156574b151-local.cfg"])
        let versions = uploads.appendingPathComponent(".versions/\(Self.mac)-local.cfg")
        let kept = try FileManager.default.contentsOfDirectory(atPath: versions.path).sorted()
        #expect(try kept.map { try String(contentsOf: versions.appendingPathComponent($0), encoding: .utf8) } == ["first\n", "second\n"])
        // A node on PostgreSQL serves the uploads it holds.
        let node = try ServerProcess(configuration: Self.store(cluster))
        var served = Answer.broken("never asked")
        for _ in 0..<100 where served != .file("third\n") {
            served = try node.read("\(Self.mac)-local.cfg", over: .http)
            usleep(100_000)
        }
        #expect(served == .file("third\n"))
        #expect(node.stop() == 0)
        let missing = try run(["store", "migrate", "--from", "sqlite:\(directory.path)/none.sqlite", "--to", "sqlite:\(back.path)/x.sqlite"])
        #expect(missing.status == 2 && missing.stderr.contains("no such file"))
    }

    @Test("PostgreSQL down: phones keep getting what the node rendered, a write fails with a message that names the store, the node says so in its log; back up, the node reads changes again by itself")
    func outage() throws {
        let cluster = try Self.fleetCluster()
        defer { cluster.stop() }
        let node = try ServerProcess(files: ["\(Self.mac).cfg": sipFile],
                                     configuration: Self.store(cluster))
        try Self.cli(["device", "add", Self.mac, "--model", "T46S", "--set", "desk=Front desk"], node: node)
        let folder = node.directory.appendingPathComponent("templates/devices")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try "#!version:1.0.0.1\naccount.1.label = {{desk}}\n"
            .write(to: folder.appendingPathComponent("\(Self.mac).cfg"), atomically: true, encoding: .utf8)
        try Self.cli(["template", "import", folder.deletingLastPathComponent().path], node: node)
        let url = "\(node.http)/\(Self.mac).cfg"
        #expect(try Self.served(url, containing: "Front desk").contains("account.1.label = Front desk"))
        let token = try Self.cli(["admin", "token", "create", "--name", "deploy", "--role", "write"], node: node)
            .trimmingCharacters(in: .whitespacesAndNewlines)

        cluster.pause()
        // Past the node's next look at the store (once a second), it still serves what it rendered.
        usleep(2_500_000)
        let during = try Client.curl(["-i", url])
        #expect(during.status == 200 && during.body.contains("account.1.label = Front desk"), "\(during.body)")
        // Its request waits in the node's memory for the store, and /metrics says how many wait.
        #expect(try Client.curl(["\(node.http)/asked-during-the-outage.cfg"]).status == 404)
        var metrics = ""
        for _ in 0..<50 where !metrics.contains("autoprov_log_waiting ") || metrics.contains("autoprov_log_waiting 0\n") {
            metrics = try Client.curl(["\(node.http)/metrics"]).body
            usleep(100_000)
        }
        #expect(metrics.contains("autoprov_log_waiting ") && !metrics.contains("autoprov_log_waiting 0\n"), "\(metrics)")
        let refused = try CommandRunner.run(["device", "set", Self.mac, "desk=Back office", "--data", node.data.path,
                                             "--config", node.directory.appendingPathComponent("autoprov.toml").path],
                                            timeout: 60)
        #expect(refused.status == 2 && refused.stderr.contains("[store] url"), "\(refused.stderr)")
        #expect(try String(contentsOf: node.output, encoding: .utf8).contains("cannot reread the inventory"))
        // Through the admin API: 503 with Retry-After (its token, in PostgreSQL too, was made before the outage).
        let api = try Client.run("curl", ["-s", "-i", "-m", "30", "-X", "PUT", "-H", "Authorization: Bearer \(token)",
                                          "-H", "Content-Type: application/json", "--data-binary", #"{"model":"T46S"}"#,
                                          "http://127.0.0.1:\(node.adminPort)/api/v1/devices/00156574b151"])
        #expect(api.stdout.hasPrefix("HTTP/1.1 503") && api.stdout.lowercased().contains("retry-after: 5")
                    && api.stdout.contains("store-unavailable"), "\(api.stdout)")

        try cluster.start()
        try Self.cli(["device", "set", Self.mac, "desk=Back office"], node: node)
        #expect(try Self.served(url, containing: "Back office").contains("account.1.label = Back office"))
        // Nothing the log held is lost: the request made during the outage is written once the store is back.
        let log = try Self.eventually(["log", "--limit", "100"], node: node) { $0.contains("/asked-during-the-outage.cfg") }
        #expect(log.contains("/asked-during-the-outage.cfg"), "\(log)")
        #expect(try String(contentsOf: node.output, encoding: .utf8).contains("the store is written again"))
        // Its listening connection is made again (after a backoff of up to 30 s), and what it rendered before
        // is dropped.
        var said = ""
        for _ in 0..<400 where !said.contains("the store's connection is back") {
            said = try String(contentsOf: node.output, encoding: .utf8)
            usleep(100_000)
        }
        #expect(said.contains("the store's connection is back; files rendered before are dropped"))
        #expect(node.stop() == 0)
    }

    @Test("an unknown phone that asks node A is added pending to the shared inventory; node B's CLI lists it and approves it, and A's CLI sees it active")
    func pendingAcrossNodes() throws {
        let cluster = try Self.fleetCluster()
        defer { cluster.stop() }
        let configuration = Self.store(cluster)
        let a = try ServerProcess(files: ["y000000000066.cfg": sipFile], configuration: configuration)
        let b = try ServerProcess(configuration: configuration)
        let unknown = "00156574b160"
        _ = try Client.curl(["-A", "Yealink SIP-T46S 66.86.0.15 00:15:65:74:b1:60", "\(a.http)/\(unknown).cfg"])
        var pending = ""
        for _ in 0..<100 {
            pending = try Self.cli(["device", "list", "--state", "pending"], node: b)
            if pending.contains(unknown) { break }
            usleep(100_000)
        }
        #expect(pending.contains(unknown), "\(pending)")
        #expect(try Self.cli(["device", "approve", unknown], node: b).contains("1 approved"))
        #expect(try Self.cli(["device", "list", "--state", "active"], node: a).contains(unknown))
        #expect(a.stop() == 0 && b.stop() == 0)
    }

    @Test("uploads on one PostgreSQL: a phone's upload through one node is served by the other at once (by notification), and by a node started later; PostgreSQL down, an upload is refused on every protocol (HTTP 503 with Retry-After, TFTP error 0, FTP 451) and no node changes; back up, uploads go through again")
    func sharedUploads() throws {
        let cluster = try Self.fleetCluster()
        defer { cluster.stop() }
        let configuration = Self.store(cluster) + "[ftp]\n[[ftp.user]]\nusername = \"phones\"\npassword = \"pw\"\n"
        let phones = Account(username: "phones", password: "pw")
        let a = try ServerProcess(files: ["y000000000066.cfg": sipFile], configuration: configuration)
        let b = try ServerProcess(files: ["y000000000066.cfg": sipFile], configuration: configuration)
        let name = "\(Self.mac)-local.cfg"
        /// What `node` serves as `name` over HTTP once it is `contents` (within 10 s), else what it served last.
        func served(_ node: ServerProcess, _ contents: String) throws -> Answer {
            var answer = Answer.broken("never asked")
            for _ in 0..<100 {
                answer = try node.read(name, over: .http)
                if answer == .file(contents) { break }
                usleep(100_000)
            }
            return answer
        }
        // Through A over HTTP, then through B over TFTP and FTP: each reaches the other node.
        let first = "#!version:1.0.0.1\naccount.1.label = first\n"
        #expect(try a.write(name, first, over: .http, as: phones) == .stored)
        #expect(try served(b, first) == .file(first))
        #expect(try b.read(name, over: .tftp) == .file(first))
        let second = "#!version:1.0.0.1\naccount.1.label = second\n"
        #expect(try b.write(name, second, over: .tftp) == .stored)
        #expect(try served(a, second) == .file(second))
        let third = "#!version:1.0.0.1\naccount.1.label = third\n"
        #expect(try b.write(name, third, over: .ftp, as: phones) == .stored)
        #expect(try served(a, third) == .file(third))
        // The versions the admin API lists are the shared store's: the same on both nodes.
        let token = try Self.cli(["admin", "token", "create", "--name", "uploads", "--role", "read"], node: a)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let listed = try [a, b].map { node in
            try Client.curl(["-H", "Authorization: Bearer \(token)",
                             "http://127.0.0.1:\(node.adminPort)/api/v1/devices/\(Self.mac)/uploads"]).body
        }
        #expect(listed[0] == listed[1] && listed[0].components(separatedBy: "\"version\"").count == 4, "\(listed)")
        // A node that starts later copies every upload when it connects.
        let c = try ServerProcess(configuration: configuration)
        #expect(try served(c, third) == .file(third))

        cluster.pause()
        let refused = "#!version:1.0.0.1\naccount.1.label = refused\n"
        let put = try Client.run("curl", ["-s", "-i", "-m", "30", "-T", "-", "\(a.http)/\(name)"], input: refused)
        // (curl's upload from its input is chunked, with Expect: 100-continue: the 100 comes first, then the answer.)
        #expect(put.stdout.contains("HTTP/1.1 503") && put.stdout.lowercased().contains("retry-after: 5"), "\(put.stdout)")
        let tftp = try a.write(name, refused, over: .tftp)
        #expect(tftp == .refused(0), "\(tftp)")
        // curl, as lftp takes 451 for what it is (try again later) and retries until it gives up.
        let ftp = try Client.run("curl", ["-s", "-v", "-m", "30", "-u", "phones:pw", "-T", "-",
                                          "ftp://\(a.ftpHostPort)/\(name)"], input: refused)
        #expect(ftp.stderr.contains("< 451 "), "\(ftp.stderr)")
        #expect(try b.write(name, refused, over: .tftp) == .refused(0))
        // Five seconds without PostgreSQL: every node still serves the last upload, over HTTP and TFTP.
        usleep(5_000_000)
        for node in [a, b, c] {
            #expect(try node.read(name, over: .http) == .file(third))
            #expect(try node.read(name, over: .tftp) == .file(third))
        }
        #expect(ServerProcess.files(below: a.data.appendingPathComponent("uploads")).allSatisfy { !$0.hasSuffix(".tmp") })

        try cluster.start()
        let fourth = "#!version:1.0.0.1\naccount.1.label = fourth\n"
        var stored = Answer.broken("never tried")
        // The node's connection is made again on its next use.
        for _ in 0..<50 where stored != .stored {
            stored = try a.write(name, fourth, over: .http, as: phones)
            if stored != .stored { usleep(200_000) }
        }
        #expect(stored == .stored)
        for node in [b, c] { #expect(try served(node, fourth) == .file(fourth)) }
        for (label, node) in [("a", a), ("b", b), ("c", c)] {
            let status = node.stop()
            #expect(status == 0, "node \(label) stopped with \(status): \(node.log.suffix(3000))")
        }
    }

    @Test("a node killed with SIGKILL in the middle of a storm of uploads: each upload is in PostgreSQL whole or not at all; the other node and a node started later serve each whole or not at all, the same set; the killed node's folder holds no part of one")
    func killedMidUpload() throws {
        let cluster = try Self.fleetCluster()
        defer { cluster.stop() }
        let configuration = Self.store(cluster)
        let a = try ServerProcess(configuration: configuration)
        let b = try ServerProcess(configuration: configuration)
        let scratch = try AccessScratch()
        // 200 uploads of 24 KB, each line naming its upload: a part of one, or a mix of two, differs from all.
        let names = (0..<200).map { String(format: "001565000%03d-local.cfg", $0) }
        let contents = names.indices.map { index in
            "#!version:1.0.0.1\n" + (0..<800).map { "# upload \(index) line \($0)\n" }.joined() + "account.1.label = \(index)\n"
        }
        // Each upload sent at 24 KB/s, about a second: the storm lasts some seconds, and the kill falls inside it.
        var arguments = ["-s", "-Z", "--parallel-max", "32", "--limit-rate", "24k", "-m", "60", "-o", "/dev/null"]
        for (index, name) in names.enumerated() {
            let file = scratch.folder.appendingPathComponent(name)
            try contents[index].write(to: file, atomically: true, encoding: .utf8)
            arguments += ["-T", file.path, "\(a.http)/\(name)"]
        }
        let storm = Process()
        storm.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        storm.arguments = ["curl"] + arguments
        storm.standardOutput = FileHandle.nullDevice
        storm.standardError = FileHandle.nullDevice
        try Children.start(storm)
        defer { storm.killGroup() }
        // Killed once the other node serves some of them (5 of every 4th of the first 80): the storm is under way.
        var started = false
        for _ in 0..<300 where !started {
            started = try stride(from: 0, to: 80, by: 4).filter { try b.read(names[$0], over: .http) != .refused(404) }
                .count >= 5
            if !started { usleep(20_000) }
        }
        #expect(started)
        a.kill9()
        storm.killGroup()
        // Whole or absent on B once its copies settle (two passes alike), and the same on a node started now.
        func served(_ node: ServerProcess) throws -> [Answer] {
            var last: [Answer] = []
            for _ in 0..<50 {
                let now = try names.map { try node.read($0, over: .http) }
                if now == last { break }
                last = now
                usleep(300_000)
            }
            return last
        }
        let onB = try served(b)
        for (index, answer) in onB.enumerated() {
            #expect(answer == .file(contents[index]) || answer == .refused(404), "\(names[index]): \(answer)")
        }
        // Some stored, some cut off by the kill: else the kill came before or after the storm, and proved nothing.
        let stored = onB.filter { $0 != .refused(404) }.count
        #expect(stored >= 5 && stored < names.count, "\(stored) of \(names.count) stored")
        let c = try ServerProcess(configuration: configuration)
        #expect(try served(c) == onB)
        // The killed node's folder: every published file whole (its temporary files are hidden, never served).
        for file in ServerProcess.files(below: a.data.appendingPathComponent("uploads"))
        where !file.hasPrefix(".") && !file.contains("/.") {
            let index = names.firstIndex(of: file)
            let held = try String(contentsOf: a.data.appendingPathComponent("uploads/\(file)"), encoding: .utf8)
            #expect(index.map { contents[$0] } == held, "\(file)")
        }
        #expect(b.stop() == 0 && c.stop() == 0)
    }
}
