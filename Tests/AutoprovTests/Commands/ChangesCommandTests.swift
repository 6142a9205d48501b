import Foundation
import Testing
import TestSupport

/// `autoprov changes` and `notify --changed`: a change reaches only the phones whose files it changed (issue 14).
@Suite("The changed set: changes and notify --changed (end to end)", .blocking, .serialized, .timeLimit(.minutes(5)))
struct ChangesCommandTests {
    static let (a, b, c) = ("001565000001", "001565000002", "001565000003")

    /// Three devices, two in `sales` (T46S) and one in `support` (T54W), with a template for each layer kind.
    static func inventory(_ data: URL, work: URL) throws {
        let folder = work.appendingPathComponent("templates")
        try write(folder, [
            "defaults.cfg": "#!version:1.0.0.1\nlocal_time.time_zone = +1\n",
            "models/T54W.cfg": "#!version:1.0.0.1\nlinekey.1.type = 15\n",
            "groups/sales.cfg": "#!version:1.0.0.1\naccount.1.label = Sales {{floor}}\naccount.1.user_name = {{user}}\n",
            "groups/support.cfg": "#!version:1.0.0.1\naccount.1.user_name = {{user}}\n",
        ])
        for arguments in [["group", "add", "sales", "--set", "floor=2"], ["group", "add", "support"],
                          ["device", "add", a, "--model", "T46S", "--group", "sales", "--set", "user=201"],
                          ["device", "add", b, "--model", "T46S", "--group", "sales", "--set", "user=202"],
                          ["device", "add", c, "--model", "T54W", "--group", "support", "--set", "user=301"],
                          ["template", "import", folder.path]] {
            let result = try CommandRunner.run(arguments + ["--data", data.path])
            guard result.status == 0 else { throw Failure(description: "\(arguments): \(result.stderr)") }
        }
    }

    static func write(_ folder: URL, _ files: [String: String]) throws {
        for (path, text) in files {
            let file = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    @Test("each change lists exactly the devices whose files' bytes it changed; an unrelated change lists none")
    func changedSet() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-changes-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let data = work.appendingPathComponent("data")
        try await onOwnThread { try Self.inventory(data, work: work) }
        func run(_ arguments: [String]) async throws -> CommandRunner.Result {
            try await CommandRunner.runOnOwnThread(arguments + ["--data", data.path])
        }
        /// The changed devices, each as `MAC CHANGE FILES…`.
        func changes() async throws -> [String] {
            let json = try await run(["changes", "--format", "json"])
            let objects = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]] ?? []
            return objects.map { object in
                (["\(object["mac"] ?? "")", (object["new"] as? Bool) == true ? "new" : "changed"]
                    + (object["files"] as? [String] ?? [])).joined(separator: " ")
            }
        }
        let common46 = "y000000000066.cfg", common54 = "y000000000096.cfg"
        #expect(try await changes() == ["\(Self.a) new \(Self.a).cfg \(common46)", "\(Self.b) new \(Self.b).cfg \(common46)",
                                        "\(Self.c) new \(Self.c).cfg \(common54)"])
        let table = try await run(["changes"])
        #expect(table.stdout.hasSuffix("3 device(s) changed since they were last told\n"), "\(table.stdout)")
        #expect(try await run(["changes", "--acknowledge"]).stdout == "3 device(s) acknowledged\n")
        #expect(try await changes() == [])

        // A variable no template uses, and a template saved with the same text: no file changes.
        _ = try await run(["device", "set", Self.b, "unused=7"])
        _ = try await run(["device", "set", Self.a, "user=201"])
        #expect(try await changes() == [])
        // One device's variable: that device's own file only.
        _ = try await run(["device", "set", Self.a, "user=209"])
        #expect(try await changes() == ["\(Self.a) changed \(Self.a).cfg"])
        _ = try await run(["changes", "--acknowledge"])

        // A group's template: its devices' files, not the other group's.
        let folder = work.appendingPathComponent("templates")
        try Self.write(folder, ["groups/sales.cfg": "#!version:1.0.0.1\naccount.1.label = Sales floor {{floor}}\naccount.1.user_name = {{user}}\n"])
        _ = try await run(["template", "import", folder.path])
        #expect(try await changes() == ["\(Self.a) changed \(Self.a).cfg", "\(Self.b) changed \(Self.b).cfg"])
        _ = try await run(["changes", "--acknowledge"])

        // A model's template: the common file of that model's devices only.
        try Self.write(folder, ["models/T54W.cfg": "#!version:1.0.0.1\nlinekey.1.type = 16\n"])
        _ = try await run(["template", "import", folder.path])
        #expect(try await changes() == ["\(Self.c) changed \(common54)"])
        // A group's variable: every device of the group.
        _ = try await run(["changes", "--acknowledge"])
        _ = try await run(["group", "set", "sales", "floor=3"])
        #expect(try await changes() == ["\(Self.a) changed \(Self.a).cfg", "\(Self.b) changed \(Self.b).cfg"])
    }

    @Test("notify --changed tells only the changed devices serve has seen, paced, and records those that answered")
    func notifyChanged() async throws {
        try await onOwnThread {
            let server = try ServerProcess(configuration: ServeFTPTests.configuration) { directory in
                try Self.inventory(directory.appendingPathComponent("data"), work: directory)
            }
            // serve sees device a (its address goes into the registry); b and c never ask.
            #expect(try Client.curl(["-u", "phones:pw", "\(server.http)/\(Self.a).cfg"]).status == 200)
            #expect(server.stop() == 0)
            let phone = try Sipp.Phone("checksync-registry-phone.xml")
            let result = try CommandRunner.run(["notify", "--changed", "--rate", "5/s", "--timeout", "5",
                                                "--sip-port", String(phone.port), "--data", server.data.path])
            #expect(phone.finish().status == 0)
            #expect(result.stdout.contains("\(Self.a) sip:127.0.0.1:\(phone.port): answered"), "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("\(Self.b): no known address") && result.stdout.contains("\(Self.c): no known address"))
            #expect(result.stdout.hasSuffix("1 devices: 1 answered, 0 refused, 0 silent\n"))
            let left = try CommandRunner.run(["changes", "--data", server.data.path])
            #expect(!left.stdout.contains(Self.a) && left.stdout.contains(Self.b) && left.stdout.contains(Self.c), "\(left.stdout)")
        }
    }

    @Test("notify_on_change: serve tells the device a change reached by itself, and records it as told")
    func notifyOnChange() async throws {
        try await onOwnThread {
            let phone = try Sipp.Phone("checksync-registry-phone.xml")
            let server = try ServerProcess(configuration: ServeFTPTests.configuration
                + "\n[inventory]\nnotify_on_change = true\nnotify_rate = 50\nnotify_port = \(phone.port)\n") { directory in
                try Self.inventory(directory.appendingPathComponent("data"), work: directory)
            }
            let data = ["--data", server.data.path]
            // serve sees device a, and the registry keeps its address (written within a second or so).
            #expect(try Client.curl(["-u", "phones:pw", "\(server.http)/\(Self.a).cfg"]).status == 200)
            #expect(eventually(within: 20) { (try? CommandRunner.run(["devices"] + data).stdout.contains(Self.a)) == true })
            #expect(try CommandRunner.run(["changes", "--acknowledge"] + data).status == 0)
            // A change to a's variable: serve rereads the inventory and notifies a alone (b and c are unchanged).
            #expect(try CommandRunner.run(["device", "set", Self.a, "user=299"] + data).status == 0)
            #expect(eventually(within: 30) { (try? CommandRunner.run(["changes"] + data).stdout.hasPrefix("MAC")) == true
                && (try? CommandRunner.run(["changes"] + data).stdout.contains(Self.a)) == false })
            #expect(phone.finish().status == 0)
            #expect(server.log.contains("check-sync sent to the devices the change reached"), "\(server.log)")
        }
    }
}
