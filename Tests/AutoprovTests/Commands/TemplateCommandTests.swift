import Foundation
import Testing
import TestSupport

/// `autoprov template` through the built binary.
@Suite("autoprov template import, export, list (end to end)", .blocking, .timeLimit(.minutes(5)))
struct TemplateCommandTests {
    @Test("a folder imports all or nothing, saves versions only for changed text, and exports as it came")
    func importExport() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-templates-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let data = work.appendingPathComponent("data").path
        func run(_ arguments: [String]) async throws -> CommandRunner.Result {
            try await CommandRunner.runOnOwnThread(arguments + ["--data", data])
        }
        let folder = work.appendingPathComponent("templates")
        let files = ["defaults.cfg": "#!version:1.0.0.1\nlocal_time.time_zone = +1\n",
                     "models/SIP-T46S.cfg": "#!version:1.0.0.1\nlinekey.1.type = 15\n",
                     "groups/sales.cfg": "#!version:1.0.0.1\naccount.1.label = Sales\n",
                     "devices/00-15-65-74-B1-50.cfg": "#!version:1.0.0.1\naccount.1.user_name = 201\n",
                     "notes.txt": "not a template\n"]
        for (path, text) in files {
            let file = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        // Nothing is saved while one file is wrong: an unknown place, a group and a device not in the inventory.
        let refused = try await run(["template", "import", folder.path])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("devices/00-15-65-74-B1-50.cfg: '00-15-65-74-B1-50' is not a device in the inventory"))
        #expect(refused.stderr.contains("groups/sales.cfg: no group 'sales'") && refused.stderr.contains("notes.txt: not a template place"))
        #expect(refused.stderr.hasSuffix("autoprov: error: \(folder.path): 3 problem(s); nothing was saved\n"), "\(refused.stderr)")
        #expect(try await run(["template", "list"]).stdout == "TEMPLATE  VERSION  SAVED  LINES\n")

        try FileManager.default.removeItem(at: folder.appendingPathComponent("notes.txt"))
        _ = try await run(["group", "add", "sales"])
        _ = try await run(["device", "add", "00156574b150", "--model", "T46S", "--group", "sales"])
        #expect(try await run(["template", "import", folder.path]).stdout == "\(folder.path): 4 saved, 0 unchanged\n")
        #expect(try await run(["template", "import", folder.path]).stdout == "\(folder.path): 0 saved, 4 unchanged\n")
        try "#!version:1.0.0.1\nlocal_time.time_zone = +2\n".write(to: folder.appendingPathComponent("defaults.cfg"),
                                                                  atomically: true, encoding: .utf8)
        #expect(try await run(["template", "import", folder.path]).stdout == "\(folder.path): 1 saved, 3 unchanged\n")
        let history = try await run(["template", "list", "--history", "defaults.cfg"]).stdout
        #expect(history.split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
                    == ["TEMPLATE VERSION", "defaults.cfg 1", "defaults.cfg 2"], "\(history)")

        // Exported under the catalog's model name and the canonical MAC, with the latest text.
        let out = work.appendingPathComponent("out")
        #expect(try await run(["template", "export", out.path]).status == 0)
        let exported = try FileManager.default.subpathsOfDirectory(atPath: out.path).filter { $0.hasSuffix(".cfg") }.sorted()
        #expect(exported == ["defaults.cfg", "devices/00156574b150.cfg", "groups/sales.cfg", "models/T46S.cfg"])
        #expect(try String(contentsOf: out.appendingPathComponent("defaults.cfg"), encoding: .utf8)
                    == "#!version:1.0.0.1\nlocal_time.time_zone = +2\n")
        #expect(try await run(["template", "import", out.path]).stdout == "\(out.path): 0 saved, 4 unchanged\n")
    }

    @Test("a save that would render a bad file is refused with FILE:LINE: problem and the device; render prints the files")
    func lintAtSaveAndRender() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-render-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let data = work.appendingPathComponent("data").path
        let config = work.appendingPathComponent("autoprov.toml")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try "[inventory]\nserver_url = \"http://prov.example/\"\n[inventory.variables]\nsip_server = \"pbx.example\"\n"
            .write(to: config, atomically: true, encoding: .utf8)
        func run(_ arguments: [String]) async throws -> CommandRunner.Result {
            try await CommandRunner.runOnOwnThread(arguments + ["--data", data, "--config", config.path])
        }
        let folder = work.appendingPathComponent("templates")
        func write(_ files: [String: String]) throws {
            for (path, text) in files {
                let file = folder.appendingPathComponent(path)
                try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                try text.write(to: file, atomically: true, encoding: .utf8)
            }
        }
        _ = try await run(["group", "add", "sales", "--set", "floor=2"])
        _ = try await run(["device", "add", "00156574b150", "--model", "T46S", "--group", "sales",
                           "--set", "user=201", "--set", "sip_password=Zq8-secret"])
        _ = try await run(["device", "add", "00156574b151", "--model", "T46S", "--group", "sales"])
        try write(["defaults.cfg": "#!version:1.0.0.1\nauto_provision.server.url = {{server_url}}\n",
                   "groups/sales.cfg": "#!version:1.0.0.1\naccount.1.sip_server.1.address = {{sip_server}}\n"
                       + "account.1.user_name = {{user}}\naccount.1.password = {{sip_password}}\n{{#floor}}\nlabel = {{floor}\n{{/floor}}\n"])
        // A tag that does not parse: the file and line, nothing saved.
        let unparsed = try await run(["template", "import", folder.path])
        #expect(unparsed.status == 2)
        #expect(unparsed.stderr.contains("\(folder.path)/groups/sales.cfg:6: unclosed tag"), "\(unparsed.stderr)")
        #expect(try await run(["template", "list"]).stdout == "TEMPLATE  VERSION  SAVED  LINES\n")

        // A variable one device of the group does not have: refused, naming the line and that device.
        try write(["groups/sales.cfg": "#!version:1.0.0.1\naccount.1.sip_server.1.address = {{sip_server}}\n"
                       + "account.1.user_name = {{user}}\naccount.1.password = {{sip_password}}\n"])
        let unknown = try await run(["template", "import", folder.path])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("\(folder.path)/groups/sales.cfg:3: unknown variable 'user': neither the device, "
                                        + "its groups nor [inventory.variables] set it (device 00156574b151)"), "\(unknown.stderr)")
        #expect(!unknown.stderr.contains("(device 00156574b150)"))
        #expect(unknown.stderr.hasSuffix("\(folder.path): 2 template error(s); nothing was saved\n"), "\(unknown.stderr)")
        #expect(try await run(["template", "list"]).stdout == "TEMPLATE  VERSION  SAVED  LINES\n")

        _ = try await run(["device", "set", "00156574b151", "user=202", "sip_password=other-secret"])
        #expect(try await run(["template", "import", folder.path]).stdout == "\(folder.path): 2 saved, 0 unchanged\n")
        let lint = try await run(["template", "lint"])
        #expect(lint.status == 0)
        #expect(lint.stdout == "2 template(s), 2 device(s): 0 error(s), 0 warning(s)\n")

        // What the phone is served, its secret line left out unless asked for.
        let rendered = try await run(["render", "--mac", "00:15:65:74:B1:50"])
        #expect(rendered.stdout == """
            ==> y000000000066.cfg (from defaults.cfg) <==
            #!version:1.0.0.1
            auto_provision.server.url = http://prov.example/

            ==> 00156574b150.cfg (from groups/sales.cfg) <==
            #!version:1.0.0.1
            account.1.sip_server.1.address = pbx.example
            account.1.user_name = 201
            # account.1.password left out: it holds a secret that only its own device receives

            """, "\(rendered.stdout)\(rendered.stderr)")
        let own = try await run(["render", "--mac", "00156574b150", "--file", "00156574b150.cfg", "--with-secrets"])
        #expect(own.stdout.hasSuffix("account.1.user_name = 201\naccount.1.password = Zq8-secret\n"))
        let missing = try await run(["render", "--mac", "00156574b150", "--file", "00156574b150.boot"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("they generate: y000000000066.cfg, 00156574b150.cfg"))

        // resolve from the data folder alone: the model from the inventory, each file's source, and each setting's
        // template, line and variables with where their values came from; the secret masked.
        let resolved = try await run(["resolve", "--mac", "00156574b150"])
        #expect(resolved.status == 0, "\(resolved.stderr)")
        #expect(resolved.stdout == """
            #!version:1.0.0.1
            # autoprov resolve: 00156574b150 (T46S), overwrite mode off
            # mac-boot 00156574b150.boot: missing
            # common-boot y000000000000.boot: missing
            # common-cfg y000000000066.cfg: applied (generated: defaults.cfg)
            # mac-cfg 00156574b150.cfg: applied (generated: groups/sales.cfg)
            # account.1.password: groups/sales.cfg:4, sip_password from device
            account.1.password = ********
            # account.1.sip_server.1.address: groups/sales.cfg:2, sip_server from config
            account.1.sip_server.1.address = pbx.example
            # account.1.user_name: groups/sales.cfg:3, user from device
            account.1.user_name = 201
            # auto_provision.server.url: defaults.cfg:2, server_url from built-in
            auto_provision.server.url = http://prov.example/

            """, "\(resolved.stdout)")
        // With a root on disk: a generated file hides the root's file of the same name; the others are the disk's.
        let root = work.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try "#!version:1.0.0.1\nold = 1\n".write(to: root.appendingPathComponent("00156574b150.cfg"), atomically: true, encoding: .utf8)
        try "#!version:1.0.0.1\nlocal = 1\n".write(to: root.appendingPathComponent("00156574b150-local.cfg"), atomically: true, encoding: .utf8)
        let json = try await run(["resolve", "--mac", "00156574b150", "--root", root.path, "--format", "json", "--with-secrets"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let files = (object?["files"] as? [[String: Any]])?.map { "\($0["path"] ?? "") \($0["source"] ?? "-")" }
        #expect(files == ["00156574b150.boot -", "y000000000000.boot -", "y000000000066.cfg generated: defaults.cfg",
                          "00156574b150.cfg generated: groups/sales.cfg", "00156574b150-local.cfg disk"], "\(json.stdout)")
        let settings = object?["settings"] as? [String: [String: Any]]
        #expect(settings?["old"] == nil && settings?["account.1.user_name"]?["template"] as? String == "groups/sales.cfg")
        #expect(settings?["account.1.password"]?["value"] as? String == "Zq8-secret")
        #expect(settings?["account.1.password"]?["templateLine"] as? Int == 4)
        #expect((settings?["account.1.user_name"]?["variables"] as? [[String: String]]) == [["name": "user", "source": "device"]])

        // lint names the root's file that a generated one hides (a warning: exit 0).
        let shadowing = try await CommandRunner.runOnOwnThread(["lint", root.path, "--data", data])
        #expect(shadowing.status == 0)
        #expect(shadowing.stdout == "\(root.path)/00156574b150.cfg:1:1: warning: never served: the inventory's templates "
                    + "generate 00156574b150.cfg (from groups/sales.cfg), which serve sends instead [shadowed-by-template]\n",
                "\(shadowing.stdout)")
    }

    @Test("device and group writes are linted against the stored templates: refused with TEMPLATE:LINE and the device, nothing saved")
    func lintAtDeviceSave() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-devlint-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let data = work.appendingPathComponent("data").path
        let config = work.appendingPathComponent("autoprov.toml")
        try FileManager.default.createDirectory(at: work.appendingPathComponent("templates/groups"), withIntermediateDirectories: true)
        try "[inventory]\n[inventory.variables]\nsip_server = \"pbx.example\"\n".write(to: config, atomically: true, encoding: .utf8)
        func run(_ arguments: [String], config: URL = config) async throws -> CommandRunner.Result {
            try await CommandRunner.runOnOwnThread(arguments + ["--data", data, "--config", config.path])
        }
        try "#!version:1.0.0.1\naccount.1.sip_server.1.address = {{sip_server}}\naccount.1.user_name = {{user}}\n"
            .write(to: work.appendingPathComponent("templates/groups/sales.cfg"), atomically: true, encoding: .utf8)
        _ = try await run(["group", "add", "sales"])
        _ = try await run(["device", "add", "00156574b150", "--model", "T46S", "--group", "sales", "--set", "user=201"])
        #expect(try await run(["template", "import", work.appendingPathComponent("templates").path]).status == 0)

        // R1 via the templates (S3): a device that would be served a file naming a variable nobody sets.
        let unset = try await run(["device", "unset", "00156574b150", "user"])
        #expect(unset.status == 2)
        #expect(unset.stderr.contains("groups/sales.cfg:3: unknown variable 'user': neither the device, its groups nor "
                                      + "[inventory.variables] set it (device 00156574b150)"), "\(unset.stderr)")
        #expect(unset.stderr.contains("1 template error(s) for the devices this changes; nothing was saved"))
        #expect(try await run(["device", "show", "00156574b150"]).stdout.contains("user      201\n"))

        let added = try await run(["device", "add", "00156574b151", "--model", "T46S", "--group", "sales"])
        #expect(added.status == 2 && added.stderr.contains("(device 00156574b151)"), "\(added.stderr)")
        #expect(try await run(["device", "show", "00156574b151"]).status == 2)
        let csv = work.appendingPathComponent("more.csv")
        try "mac,model,label,groups,state,user\n00156574b152,T46S,,sales,active,\n".write(to: csv, atomically: true, encoding: .utf8)
        let imported = try await run(["device", "import", csv.path])
        #expect(imported.status == 2 && imported.stderr.contains("(device 00156574b152)"), "\(imported.stderr)")
        #expect(try await run(["device", "list", "--format", "csv"]).stdout.split(separator: "\r\n").count == 2)

        // A group variable makes it whole: group writes are checked for their members the same way.
        #expect(try await run(["group", "set", "sales", "user=shared"]).status == 0)
        #expect(try await run(["device", "add", "00156574b151", "--model", "T46S", "--group", "sales"]).status == 0)
        let groupUnset = try await run(["group", "set", "sales", "user="])
        #expect(groupUnset.status == 2 && groupUnset.stderr.contains("(device 00156574b151)"), "\(groupUnset.stderr)")
        #expect(!groupUnset.stderr.contains("(device 00156574b150)"))

        // Without the configuration's variable, what is stored no longer renders: template lint says so, exit 1.
        let bare = work.appendingPathComponent("bare.toml")
        try "[inventory]\n".write(to: bare, atomically: true, encoding: .utf8)
        let lint = try await run(["template", "lint"], config: bare)
        #expect(lint.status == 1, "\(lint.stdout)\(lint.stderr)")
        #expect(lint.stdout.contains("groups/sales.cfg:2: unknown variable 'sip_server'"), "\(lint.stdout)")
        #expect(lint.stdout.hasSuffix("1 template(s), 2 device(s): 2 error(s), 0 warning(s)\n"), "\(lint.stdout)")
    }

    @Test("boot mode: the variable boot serves a generated <mac>.boot; resolve follows it and overwrite mode is on")
    func bootMode() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-boot-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let data = work.appendingPathComponent("data").path
        func run(_ arguments: [String]) async throws -> CommandRunner.Result {
            try await CommandRunner.runOnOwnThread(arguments + ["--data", data])
        }
        let folder = work.appendingPathComponent("templates")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("groups"), withIntermediateDirectories: true)
        try "#!version:1.0.0.1\naccount.1.label = Sales\n".write(to: folder.appendingPathComponent("groups/sales.cfg"),
                                                              atomically: true, encoding: .utf8)
        _ = try await run(["group", "add", "sales"])
        _ = try await run(["device", "add", "00156574b150", "--model", "T46S", "--group", "sales"])
        _ = try await run(["template", "import", folder.path])
        _ = try await run(["changes", "--acknowledge"])
        #expect(try await run(["group", "set", "sales", "boot=1"]).status == 0)
        let changes = try await run(["changes"])
        #expect(changes.stdout.contains("00156574b150  T46S   changed  00156574b150.boot"), "\(changes.stdout)")
        let resolved = try await run(["resolve", "--mac", "00156574b150"])
        #expect(resolved.stdout.contains("overwrite mode on"), "\(resolved.stdout)")
        #expect(resolved.stdout.contains("# mac-boot 00156574b150.boot: applied (generated)"), "\(resolved.stdout)")
        #expect(resolved.stdout.contains("# include 00156574b150.cfg: applied (generated: groups/sales.cfg)"), "\(resolved.stdout)")
        let file = try await run(["render", "--mac", "00156574b150", "--file", "00156574b150.boot"])
        #expect(file.stdout == "#!version:1.0.0.1\ninclude:config \"y000000000066.cfg\"\ninclude:config \"00156574b150.cfg\"\n"
            + "overwrite_mode = 1\n")
    }
}
