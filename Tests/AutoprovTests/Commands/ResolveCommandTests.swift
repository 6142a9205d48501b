import Foundation
import Testing
import TestSupport

@Suite("autoprov resolve (end to end)", .blocking, .timeLimit(.minutes(5)))
struct ResolveCommandTests {
    func json(_ result: CommandRunner.Result) throws -> [String: Any] {
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    func files(_ object: [String: Any]) -> [String] {
        (object["files"] as? [[String: Any]] ?? []).map { file in
            "\(file["role"] ?? "") \(file["path"] ?? "") \(file["status"] ?? "")"
        }
    }

    @Test("the Guide's tree: files tried, overwrite mode, settings with provenance, in the documented JSON shape")
    func guideTree() throws {
        let tree = try FixtureTree("guide")
        let object = try json(try CommandRunner.run([
            "resolve", "--root", tree.path, "--mac", "00:15:65:74:B1:50", "--model", "SIP-T46G", "--format", "json",
        ]))
        #expect(object["mac"] as? String == "00156574b150")
        #expect(object["model"] as? String == "T46G")
        #expect(object["overwriteMode"] as? Bool == true)
        #expect(object["unchanged"] as? Bool == false)
        #expect(object["rebootRequired"] as? Bool == false)
        #expect(files(object) == [
            "mac-boot 00156574b150.boot missing", "common-boot y000000000000.boot applied",
            "include tftp://10.2.5.193/network.cfg ignored", "include sip.cfg applied",
            "include features.cfg applied", "mac-local 00156574b150-local.cfg applied",
        ])
        let settings = try #require(object["settings"] as? [String: [String: Any]])
        #expect(settings["account.1.label"]?["value"] as? String == "Reception")
        #expect(settings["account.1.label"]?["file"] as? String == "00156574b150-local.cfg")
        #expect(settings["account.1.user_name"]?["file"] as? String == "sip.cfg")
        #expect(settings["account.1.user_name"]?["line"] as? Int == 5)
        #expect(object["reset"] as? [String] == [])
    }

    @Test("two runs with --state model two provisionings: MD5 unchanged, then a blank value resets to null")
    func stateAcrossRuns() throws {
        let tree = try FixtureTree("guide")
        let state = tree.file("phone-state.json").path
        let arguments = ["resolve", "--root", tree.path, "--mac", "00156574b150", "--model", "T46G",
                         "--local", tree.file("settings.cfg").path, "--state", state, "--format", "json"]
        let first = try json(try CommandRunner.run(arguments))
        #expect(first["unchanged"] as? Bool == false)
        #expect(FileManager.default.fileExists(atPath: state))
        let second = try json(try CommandRunner.run(arguments))
        #expect(second["unchanged"] as? Bool == true)

        try tree.write("sip.cfg", "#!version:1.0.0.1\naccount.1.label =\naccount.1.enable = 1\n")
        let third = try json(try CommandRunner.run(arguments))
        #expect(third["unchanged"] as? Bool == false)
        let settings = try #require(third["settings"] as? [String: [String: Any]])
        #expect(settings["account.1.label"]?["value"] is NSNull)
        #expect(settings["account.1.user_name"]?["value"] is NSNull)
        #expect(third["reset"] as? [String] == [
            "account.1.label", "account.1.sip_server.1.address", "account.1.user_name",
        ])
        // The MAC-local file (here the Guide's settings.cfg) keeps its non-static settings; static ones are dropped.
        #expect(settings["phone_setting.phone_lock.enable"]?["value"] as? String == "1")
        #expect(settings["static.lang.wui"] == nil)
    }

    @Test("--format cfg prints a valid CFG file, keys sorted, that lint accepts")
    func cfgOutput() throws {
        let tree = try FixtureTree("guide")
        let result = try CommandRunner.run(["resolve", "--root", tree.path, "--mac", "00156574B150",
                                            "--model", "T46G"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("#!version:1.0.0.1\n"))
        let keys = result.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
            .map { String($0.split(separator: "=")[0]).trimmingCharacters(in: .whitespaces) }
        #expect(keys == keys.sorted())
        #expect(keys.contains("features.dnd.enable"))
        try tree.write("effective.cfg", result.stdout)
        #expect(try CommandRunner.run(["lint", tree.file("effective.cfg").path]).stdout == "")
    }

    @Test("--user-agent gives the model; a User-Agent MAC must match --mac")
    func userAgent() throws {
        let tree = try FixtureTree("guide")
        let object = try json(try CommandRunner.run([
            "resolve", "--root", tree.path, "--mac", "0015654aa937", "--format", "json",
            "--user-agent", "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37",
        ]))
        #expect(object["model"] as? String == "T46G")
        let mismatch = try CommandRunner.run([
            "resolve", "--root", tree.path, "--mac", "00156574b150",
            "--user-agent", "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37",
        ])
        #expect(mismatch.status == 2)
    }

    @Test("R3.6: the Guide's wildcard example, with $PN directories and a $MAC.boot URL")
    func wildcards() throws {
        let tree = try FixtureTree("wildcard")
        let directory = try json(try CommandRunner.run([
            "resolve", "--root", tree.path, "--mac", "00156543EC97", "--model", "T46G",
            "--url", "tftp://192.168.1.100/$PN", "--format", "json",
        ]))
        #expect(files(directory) == [
            "mac-boot T46G/00156543ec97.boot missing", "common-boot T46G/y000000000000.boot applied",
            "include T46G/t46g.cfg applied",
        ])
        let named = try json(try CommandRunner.run([
            "resolve", "--root", tree.path, "--mac", "00156543EC97", "--model", "T42G",
            "--url", "tftp://192.168.1.100/$PN/$MAC.boot", "--format", "json",
        ]))
        #expect(files(named) == [
            "mac-boot T42G/00156543ec97.boot applied", "include T42G/t42g.cfg applied", "include common.cfg applied",
        ])
    }

    @Test("S2: an include through a symbolic link out of the root is refused, not read")
    func symlinkOutOfRoot() throws {
        let tree = try FixtureTree("guide")
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-secret-\(UUID()).cfg")
        try "#!version:1.0.0.1\nsecret = leaked\n".write(to: outside, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: outside) }
        try FileManager.default.createSymbolicLink(at: tree.file("features.cfg").deletingLastPathComponent()
            .appendingPathComponent("link.cfg"), withDestinationURL: outside)
        try tree.write("y000000000000.boot", "#!version:1.0.0.1\ninclude:config <link.cfg>\n")
        let object = try json(try CommandRunner.run([
            "resolve", "--root", tree.path, "--mac", "00156574b150", "--model", "T46G", "--format", "json",
        ]))
        #expect(files(object).contains("include link.cfg ignored"))
        #expect(!(try CommandRunner.run(["resolve", "--root", tree.path, "--mac", "00156574b150", "--model", "T46G"]))
            .stdout.contains("leaked"))
    }

    @Test("S2: resolve refuses what the server refuses: an include of a hidden name (.versions/…) is not read")
    func hiddenNames() throws {
        let tree = try FixtureTree("guide")
        try FileManager.default.createDirectory(at: tree.file(".versions"), withIntermediateDirectories: true)
        try tree.write(".versions/old.cfg", "#!version:1.0.0.1\nold = leaked\n")
        try tree.write(".hidden.cfg", "#!version:1.0.0.1\nhidden = leaked\n")
        try tree.write("y000000000000.boot", "#!version:1.0.0.1\ninclude:config <.versions/old.cfg>\ninclude:config <.hidden.cfg>\n")
        let object = try json(try CommandRunner.run([
            "resolve", "--root", tree.path, "--mac", "00156574b150", "--model", "T46G", "--format", "json",
        ]))
        #expect(files(object).contains("include .versions/old.cfg ignored"), "\(files(object))")
        #expect(files(object).contains("include .hidden.cfg ignored"), "\(files(object))")
        #expect(!(try CommandRunner.run(["resolve", "--root", tree.path, "--mac", "00156574b150", "--model", "T46G"]))
            .stdout.contains("leaked"))
    }

    @Test("errors are one line on stderr and exit 2", arguments: [
        (["--mac", "00156574B15", "--model", "T46G"], "not a MAC address"),
        (["--mac", "00156574B150", "--model", "T99X"], "unknown phone model"),
        (["--mac", "00156574B150"], "exactly one of --model and --user-agent"),
        (["--mac", "00156574B150", "--model", "T46G", "--user-agent", "Yealink SIP-T46G 28.72.0.1"],
         "exactly one of --model and --user-agent"),
        (["--mac", "00156574B150", "--user-agent", "curl/8.5.0"], "not a Yealink User-Agent"),
        (["--mac", "00156574B150", "--model", "T46G", "--url", "nowhere"], "not a provisioning URL"),
    ])
    func errors(arguments: [String], message: String) throws {
        let tree = try FixtureTree("guide")
        let result = try CommandRunner.run(["resolve", "--root", tree.path] + arguments)
        #expect(result.status == 2)
        #expect(result.stdout == "")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test("an unreadable root and a bad state file exit 2")
    func unreadable() throws {
        let missing = try CommandRunner.run(["resolve", "--root", "/nonexistent/root", "--mac", "00156574b150",
                                             "--model", "T46G"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("not a readable directory"))
        let tree = try FixtureTree("guide")
        try tree.write("state.json", "{ not json")
        let badState = try CommandRunner.run(["resolve", "--root", tree.path, "--mac", "00156574b150",
                                              "--model", "T46G", "--state", tree.file("state.json").path])
        #expect(badState.status == 2)
        #expect(badState.stderr.contains("not a state file"))
        #expect(try String(contentsOf: tree.file("state.json"), encoding: .utf8) == "{ not json")
    }
}

@Suite("autoprov schedule (end to end)", .blocking, .timeLimit(.minutes(5)))
struct ScheduleCommandTests {
    @Test("R8.3: prints the next window of each enabled mode")
    func schedule() throws {
        let tree = try FixtureTree("guide")
        try tree.write("schedule.cfg", """
            #!version:1.0.0.1
            static.auto_provision.repeat.enable = 1
            static.auto_provision.weekly.enable = 1
            static.auto_provision.weekly.dayofweek = 1
            static.auto_provision.weekly.begin_time = 02:00
            static.auto_provision.weekly.end_time = 03:00

            """)
        let result = try CommandRunner.run(["schedule", "--mac", "00156574b150", "--after", "2026-11-27 10:00",
                                            tree.file("schedule.cfg").path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "repeatedly: 2026-11-28 10:00\nweekly: 2026-11-30 02:00 to 2026-11-30 03:00\n")
    }
}
