import Foundation
import Testing
import TestSupport

/// `autoprov device` and `autoprov group` through the built binary, on a fresh data folder.
@Suite("autoprov device and group (end to end)", .blocking, .timeLimit(.minutes(5)))
struct InventoryCommandTests {
    /// A fresh data folder, removed when done; runs `autoprov` with `--data` pointing at it.
    final class DataFolder {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-inventory-\(UUID().uuidString)")

        @discardableResult
        func run(_ arguments: [String]) async throws -> CommandRunner.Result {
            try await CommandRunner.runOnOwnThread(arguments + ["--data", url.path])
        }

        deinit { try? FileManager.default.removeItem(at: url) }
    }

    /// `device show`'s two columns as a dictionary.
    static func fields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            fields[String(parts[0])] = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        }
        return fields
    }

    @Test("add, show, set, unset, list in three formats, rm; the MAC in any spelling, the model's catalog name")
    func deviceLifecycle() async throws {
        let data = DataFolder()
        #expect(try await data.run(["group", "add", "sales", "--set", "line_label=Sales"]).status == 0)
        let added = try await data.run(["device", "add", "00-15-65-74-B1-50", "--model", "sip-t46s", "--label", "Reception",
                                  "--group", "sales", "--set", "ext=201", "--set", "sip_password=s3cret,\"x\""])
        #expect(added.status == 0, "\(added.stderr)")
        let shown = try await data.run(["device", "show", "00:15:65:74:B1:50"])
        #expect(shown.status == 0, "\(shown.stderr)")
        let fields = InventoryCommandTests.fields(shown.stdout)
        #expect(fields["mac"] == "00156574b150" && fields["model"] == "T46S" && fields["label"] == "Reception")
        #expect(fields["groups"] == "sales" && fields["ext"] == "201" && fields["state"] == "active")
        #expect(fields["sip_password"] == "********" && fields["password"] == "********", "\(shown.stdout)")
        #expect(!shown.stdout.contains("s3cret"), "a secret variable was printed: \(shown.stdout)")
        let secret = InventoryCommandTests.fields(try await data.run(["device", "show", "00156574b150", "--with-secrets"]).stdout)
        #expect(secret["sip_password"] == "s3cret,\"x\"")
        // The device's own password: made at add, 16 characters, shown only on request.
        #expect(secret["password"]?.count == 16 && secret["username"] == "00156574b150")

        #expect(try await data.run(["device", "set", "00156574b150", "ext=202", "floor=2"]).status == 0)
        #expect(try await data.run(["device", "unset", "00156574b150", "floor"]).status == 0)
        #expect(try await data.run(["device", "add", "00156574b14f", "--model", "T54W", "--state", "pending"]).status == 0)

        let table = try await data.run(["device", "list"])
        #expect(table.stdout.split(separator: "\n").map { $0.split(separator: " ").first ?? "" }
                    == ["MAC", "00156574b14f", "00156574b150"], "\(table.stdout)")
        #expect(table.stdout.contains("ext=202 sip_password=********") && !table.stdout.contains("floor"), "\(table.stdout)")
        let pending = try await data.run(["device", "list", "--state", "pending", "--format", "csv"])
        #expect(pending.stdout == "mac,model,label,groups,state\r\n00156574b14f,T54W,,,pending\r\n", "\(pending.stdout)")
        let csv = try await data.run(["device", "list", "--group", "sales", "--format", "csv", "--with-secrets"])
        // With secrets, the device's own password too (for a redirection service or activation codes).
        #expect(csv.stdout == "mac,model,label,groups,state,password,ext,sip_password\r\n"
                    + "00156574b150,T46S,Reception,sales,active,\(secret["password"] ?? "?"),202,\"s3cret,\"\"x\"\"\"\r\n",
                "\(csv.stdout)")
        let json = try await data.run(["device", "list", "--model", "T46S", "--format", "json"])
        let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
        #expect(parsed?.first?["variables"] as? [String: String] == ["ext": "202", "sip_password": "********"])
        #expect(parsed?.first?["password"] == nil && parsed?.count == 1)

        #expect(try await data.run(["device", "rm", "00:15:65:74:b1:4f"]).status == 0)
        #expect(try await data.run(["device", "list", "--format", "csv"]).stdout.components(separatedBy: "\r\n").count == 3)
    }

    @Test("mistakes are refused with one line naming the problem, exit 2, and change nothing", arguments: [
        (["device", "add", "00156574b1", "--model", "T46S"], "00156574b1"),
        (["device", "add", "00156574b150", "--model", "T99X"], "'T99X' is not a model"),
        (["device", "add", "00156574b150", "--model", "T46S", "--group", "nope"], "no group 'nope'"),
        (["device", "add", "00156574b150", "--model", "T46S", "--set", "mac=x"], "'mac' is a built-in variable"),
        (["device", "add", "00156574b150", "--model", "T46S", "--set", "a.b=x"], "'a.b' is not a variable name"),
        (["device", "add", "00156574b150", "--model", "T46S", "--set", "novalue"], "'novalue' is not NAME=VALUE"),
        (["device", "add", "001565000001", "--model", "T46S"], "already in the inventory"),
        (["device", "set", "00156574b1ff", "a=1"], "no device 00156574b1ff"),
        (["device", "unset", "001565000001", "missing"], "has no variable 'missing'"),
        (["device", "rm", "00156574b1ff"], "no device 00156574b1ff"),
        (["group", "add", "bad name"], "'bad name' is not a group name"),
        (["group", "add", "sales"], "group 'sales' already exists"),
        (["group", "rm", "sales"], "group 'sales' is used by 1 device(s)"),
        (["group", "set", "support", "a=1"], "no group 'support'"),
    ])
    func refusals(arguments: [String], message: String) async throws {
        let data = DataFolder()
        try await data.run(["group", "add", "sales"])
        try await data.run(["device", "add", "001565000001", "--model", "T46S", "--group", "sales"])
        let before = try await data.run(["device", "list", "--format", "csv", "--with-secrets"]).stdout
        let result = try await data.run(arguments)
        #expect(result.status == 2, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.hasPrefix("autoprov: error: ") && result.stderr.contains(message), "\(result.stderr)")
        #expect(try await data.run(["device", "list", "--format", "csv", "--with-secrets"]).stdout == before)
    }

    @Test("groups: variables set and removed, device counts, secrets masked; [inventory] secret_variables is read")
    func groups() async throws {
        let data = DataFolder()
        try await data.run(["group", "add", "sales", "--set", "vm_pin=1234", "--set", "codec=g722"])
        try await data.run(["group", "add", "floor2"])
        try await data.run(["device", "add", "001565000001", "--model", "T46S", "--group", "sales", "--set", "token=abc"])
        #expect(try await data.run(["group", "set", "sales", "codec=", "lang=de"]).status == 0)
        let list = try await data.run(["group", "list"])
        #expect(list.stdout == """
            GROUP   DEVICES  VARIABLES
            floor2  0
            sales   1        lang=de vm_pin=********

            """, "\(list.stdout)")
        #expect(try await data.run(["group", "list", "--with-secrets"]).stdout.contains("vm_pin=1234"))
        // A site's own secret names, from autoprov.toml.
        let config = data.url.appendingPathComponent("autoprov.toml")
        try "[inventory]\nsecret_variables = [\"token\"]\n".write(to: config, atomically: true, encoding: .utf8)
        let shown = try await data.run(["device", "show", "001565000001", "--config", config.path])
        #expect(InventoryCommandTests.fields(shown.stdout)["token"] == "********", "\(shown.stdout)")
        #expect(InventoryCommandTests.fields(try await data.run(["device", "show", "001565000001"]).stdout)["token"] == "abc")
        #expect(try await data.run(["group", "rm", "floor2"]).status == 0)
        #expect(try await data.run(["group", "list"]).stdout.contains("floor2") == false)
    }

    @Test("import a CSV, export it, import the export: nothing changes; a bad file names FILE:LINE and writes nothing")
    func importExport() async throws {
        let data = DataFolder()
        try FileManager.default.createDirectory(at: data.url, withIntermediateDirectories: true)
        let fleet = data.url.appendingPathComponent("fleet.csv")
        try "mac,model,label,groups,state,ext,sip_password\n00:15:65:00:00:01,SIP-T46S,\"Desk, 2nd\",sales;floor2,,201,s3cret\n"
            .appending("001565000002,T54W,,,pending,,\n").write(to: fleet, atomically: true, encoding: .utf8)
        let imported = try await data.run(["device", "import", fleet.path])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout == "\(fleet.path): 2 added, 0 changed, 0 unchanged; groups created: sales, floor2\n")
        let export = data.url.appendingPathComponent("export.csv")
        #expect(try await data.run(["device", "export", export.path]).status == 0)
        let exported = try String(contentsOf: export, encoding: .utf8)
        #expect(exported == "mac,model,label,groups,state,ext,sip_password\r\n"
                    + "001565000001,T46S,\"Desk, 2nd\",sales;floor2,active,201,********\r\n"
                    + "001565000002,T54W,,,pending,,\r\n")
        let again = try await data.run(["device", "import", export.path])
        #expect(again.stdout == "\(export.path): 0 added, 0 changed, 2 unchanged\n", "\(again.stderr)")
        let secret = InventoryCommandTests.fields(try await data.run(["device", "show", "001565000001", "--with-secrets"]).stdout)
        #expect(secret["sip_password"] == "s3cret" && secret["label"] == "Desk, 2nd")

        let bad = data.url.appendingPathComponent("bad.csv")
        try "mac,model\n001565000003,T46S\n0015650000,T46S\n001565000004,T99X\n".write(to: bad, atomically: true, encoding: .utf8)
        let before = try await data.run(["device", "export", "--with-secrets"]).stdout
        let refused = try await data.run(["device", "import", bad.path])
        #expect(refused.status == 2)
        #expect(refused.stderr == "\(bad.path):3: '0015650000' is not a MAC address\n\(bad.path):4: 'T99X' is not a model autoprov knows\n"
                    + "autoprov: error: \(bad.path): 2 problem(s); nothing was imported\n", "\(refused.stderr)")
        #expect(try await data.run(["device", "export", "--with-secrets"]).stdout == before)

        // An export with secrets carries each device's own password to another inventory.
        let copy = DataFolder()
        try FileManager.default.createDirectory(at: copy.url, withIntermediateDirectories: true)
        let carried = copy.url.appendingPathComponent("carried.csv")
        try before.write(to: carried, atomically: true, encoding: .utf8)
        #expect(try await copy.run(["device", "import", carried.path]).status == 0)
        #expect(try await copy.run(["device", "export", "--with-secrets"]).stdout == before)
        #expect(before.hasPrefix("mac,model,label,groups,state,password,"), "\(before)")
    }

    @Test("approve makes pending devices active; an unknown MAC among them approves none")
    func approve() async throws {
        let data = DataFolder()
        try await data.run(["device", "add", "001565000001", "--model", "T46S", "--state", "pending"])
        try await data.run(["device", "add", "001565000002", "--model", "T46S", "--state", "disabled"])
        try await data.run(["device", "add", "001565000003", "--model", "T46S"])
        let refused = try await data.run(["device", "approve", "001565000001", "0015650000ff"])
        #expect(refused.status == 2 && refused.stderr.contains("no device 0015650000ff"), "\(refused.stderr)")
        #expect(try await data.run(["device", "list", "--state", "pending", "--format", "csv"]).stdout.contains("001565000001"))
        let approved = try await data.run(["device", "approve", "00:15:65:00:00:01", "001565000002", "001565000003"])
        #expect(approved.stdout == "2 approved, 1 already active\n", "\(approved.stderr)")
        #expect(try await data.run(["device", "list", "--state", "active", "--format", "csv"]).stdout
                    == "mac,model,label,groups,state\r\n001565000001,T46S,,,active\r\n001565000002,T46S,,,active\r\n"
                    + "001565000003,T46S,,,active\r\n")
    }
}
