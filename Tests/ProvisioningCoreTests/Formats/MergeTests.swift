@testable import ProvisioningCore
import Testing

@Suite("Merging, overwrite mode and MD5 (R4)", .timeLimit(.minutes(2)))
struct MergeTests {
    @Test("R4.1: later files override earlier ones, in download order")
    func order() throws {
        var server = MemoryServer([
            "y000000000000.boot": header + "include:config <a.cfg>\ninclude:config <b.cfg>\n",
            "a.cfg": header + "k = a\nonly.a = 1\n", "b.cfg": header + "k = b\n",
        ])
        let outcome = try server.provision()
        #expect(outcome.settings["k"] == EffectiveSetting(value: "b", file: "b.cfg", line: 2))
        #expect(outcome.settings["only.a"] == EffectiveSetting(value: "1", file: "a.cfg", line: 3))
    }

    /// The Guide's overwrite-mode example: account 1's label "abc", then left blank or deleted.
    static func labelled() -> PhoneState {
        PhoneState(settings: [
            "account.1.label": SettingSource(value: "abc", file: "sip.cfg", line: 2),
            "account.1.enable": SettingSource(value: "1", file: "sip.cfg", line: 3),
            "static.lang.wui": SettingSource(value: "English", file: "sip.cfg", line: 4),
        ], digests: ["sip.cfg": "old"])
    }

    @Test("R4.2: overwrite mode on: a blank value takes the factory default")
    func overwriteBlank() throws {
        var server = MemoryServer([
            "y000000000000.boot": header + "include:config <sip.cfg>\noverwrite_mode = 1\n",
            "sip.cfg": header + "account.1.label =\naccount.1.enable = 1\n",
        ])
        let outcome = try server.provision(previous: Self.labelled())
        #expect(outcome.overwriteMode)
        #expect(outcome.settings["account.1.label"] == EffectiveSetting(value: nil, file: "sip.cfg", line: 2))
        #expect(outcome.reset == ["account.1.label"])
        #expect(outcome.state.settings["account.1.label"] == nil)
    }

    @Test("R4.2: overwrite mode on: a deleted non-static key returns to default; a static one keeps its value")
    func overwriteDeleted() throws {
        var server = MemoryServer([
            "y000000000000.boot": header + "include:config <sip.cfg>\n",  // overwrite mode on by default (R2.4)
            "sip.cfg": header + "account.1.label = abc\n# account.1.enable = 1\n",
        ])
        let outcome = try server.provision(previous: Self.labelled())
        #expect(outcome.settings["account.1.enable"] == EffectiveSetting(value: nil, file: nil, line: nil))
        #expect(outcome.value("static.lang.wui") == "English")
        #expect(outcome.reset == ["account.1.enable"])
    }

    @Test("R4.3: overwrite mode off: a blank value is ignored and deleted keys keep their values")
    func overwriteOff() throws {
        var server = MemoryServer([
            "y000000000000.boot": header + "include:config <sip.cfg>\noverwrite_mode = 0\n",
            "sip.cfg": header + "account.1.label =\n",
        ])
        let outcome = try server.provision(previous: Self.labelled())
        #expect(!outcome.overwriteMode)
        #expect(outcome.value("account.1.label") == "abc")
        #expect(outcome.value("account.1.enable") == "1")
        #expect(outcome.reset.isEmpty)
    }

    @Test("R2.4: without a boot file overwrite mode is off and cannot be enabled")
    func noBootNoOverwrite() throws {
        var server = MemoryServer([
            "y000000000028.cfg": header + "overwrite_mode = 1\naccount.1.label =\n",
        ])
        let outcome = try server.provision(previous: Self.labelled())
        #expect(!outcome.overwriteMode)
        #expect(outcome.value("account.1.label") == "abc")
        #expect(outcome.value("overwrite_mode") == nil)
    }

    @Test("R4.4: when every configuration file has the same MD5 as last time, nothing is updated")
    func md5Unchanged() throws {
        var server = MemoryServer([
            "y000000000000.boot": header + "include:config <sip.cfg>\n",
            "sip.cfg": header + "account.1.label = abc\nstatic.network.vlan.internet_port_enable = 1\n",
        ])
        let first = try server.provision(local: header + "account.1.label = mine\n")
        #expect(!first.unchanged)
        #expect(first.rebootRequired)
        #expect(first.state.digests.keys.sorted() == ["sip.cfg"])
        let second = try server.provision(previous: first.state, local: header + "account.1.label = other\n")
        #expect(second.unchanged)
        #expect(!second.rebootRequired)
        #expect(second.value("account.1.label") == "mine")
        #expect(second.files.allSatisfy { $0.status != .applied || $0.role == .commonBoot })
        #expect(second.state == first.state)
    }

    @Test("R4.4: any byte change (even a comment) counts as a change")
    func md5Changed() throws {
        var server = MemoryServer([
            "y000000000000.boot": header + "include:config <sip.cfg>\n",
            "sip.cfg": header + "account.1.label = abc\n",
        ])
        let first = try server.provision()
        server.files["sip.cfg"]! += "# touched\n"
        let second = try server.provision(previous: first.state)
        #expect(!second.unchanged)
        #expect(!second.rebootRequired)
    }

    @Test("R4.4: in legacy mode the common and MAC-oriented files are compared")
    func md5Legacy() throws {
        var server = MemoryServer(["y000000000028.cfg": header + "a = 1\n", "00156574b150.cfg": header + "b = 1\n"])
        let first = try server.provision()
        #expect(first.state.digests.keys.sorted() == ["00156574b150.cfg", "y000000000028.cfg"])
        #expect(try server.provision(previous: first.state).unchanged)
        server.files["00156574b150.cfg"] = nil
        #expect(!(try server.provision(previous: first.state).unchanged))
    }

    @Test("R4.5: a reboot follows a changed network or server setting, or reboot_force", arguments: [
        ("static.network.ip_address_mode = 1", true), ("network.vlan.pc_port_enable = 1", true),
        ("static.auto_provision.server.url = http://x/", true), ("account.1.label = x", false),
        ("static.auto_provision.reboot_force.enable = 1", true), ("static.auto_provision.reboot_force.enable = 0", false),
    ])
    func reboot(line: String, reboots: Bool) throws {
        var server = MemoryServer(["y000000000028.cfg": header + line + "\n"])
        #expect(try server.provision().rebootRequired == reboots)
    }

    @Test("R4.5: an unchanged network value does not reboot")
    func rebootOnlyOnChange() throws {
        var server = MemoryServer(["y000000000028.cfg": header + "static.network.ip_address_mode = 1\n"])
        let first = try server.provision()
        server.files["00156574b150.cfg"] = header + "account.1.label = x\n"
        #expect(!(try server.provision(previous: first.state).rebootRequired))
    }

    @Test("R1.7: a model section applies only to the models it names")
    func modelSections() throws {
        var server = MemoryServer([
            "y000000000000.boot": header + "include:config <all.cfg>\n",
            "all.cfg": header + "a = all\n[T46S, SIP-T46G]\nb = t46\n[T23G]\nc = t23\n",
        ])
        let t46 = try server.provision(model: "T46G")
        #expect(t46.value("b") == "t46")
        #expect(t46.value("c") == nil)
        let t23 = try server.provision(model: "T23G")
        #expect(t23.value("b") == nil)
        #expect(t23.value("c") == "t23")
    }
}

@Suite("MAC-local file (R5)", .timeLimit(.minutes(2)))
struct LocalFileTests {
    static let protect = "static.auto_provision.custom.protect = 1\n"

    @Test("R5.1: static keys in the MAC-local file are ignored")
    func staticIgnored() throws {
        var server = MemoryServer(["y000000000028.cfg": header + Self.protect])
        let outcome = try server.provision(local: header + "static.lang.wui = French\nlang.gui = French\n")
        #expect(outcome.value("static.lang.wui") == nil)
        #expect(outcome.value("lang.gui") == "French")
    }

    @Test("R5.2: with custom.protect = 1 it is applied last and wins")
    func protectWins() throws {
        var server = MemoryServer(["y000000000028.cfg": header + Self.protect + "account.1.label = admin\n"])
        let outcome = try server.provision(local: header + "account.1.label = user\n")
        #expect(outcome.settings["account.1.label"] == EffectiveSetting(value: "user", file: "stored-local.cfg", line: 2))
    }

    @Test("R5.2: overwrite mode forces custom.protect")
    func overwriteForcesProtect() throws {
        var server = MemoryServer([
            "y000000000000.boot": header + "include:config <a.cfg>\n", "a.cfg": header + "account.1.label = admin\n",
        ])
        #expect(try server.provision(local: header + "account.1.label = user\n").value("account.1.label") == "user")
    }

    @Test("R5.3: otherwise provisioning overrides the user's settings")
    func notProtected() throws {
        var server = MemoryServer(["y000000000028.cfg": header + "account.1.label = admin\n"])
        let outcome = try server.provision(local: header + "account.1.label = user\n")
        #expect(outcome.value("account.1.label") == "admin")
        #expect(outcome.files.last?.status == .ignored)
    }

    @Test("R5.4: with custom.sync = 1 the phone downloads <mac>-local.cfg from the server, which overrides its own")
    func syncDownload() throws {
        var server = MemoryServer([
            "y000000000028.cfg": header + Self.protect + "static.auto_provision.custom.sync = 1\n",
            "00156574b150-local.cfg": header + "account.1.label = from-server\n",
        ])
        let outcome = try server.provision(local: header + "account.1.label = stored\n")
        #expect(server.fetched.last == "00156574b150-local.cfg")
        #expect(outcome.value("account.1.label") == "from-server")
        #expect(outcome.tried.last == "mac-local 00156574b150-local.cfg applied")
    }

    @Test("R5.4: the sync path, when set, is where it is downloaded from")
    func syncPath() throws {
        var server = MemoryServer([
            "y000000000028.cfg": header + Self.protect + "static.auto_provision.custom.sync = 1\n"
                + "static.auto_provision.custom.sync.path = tftp://srv/backup\n",
            "backup/00156574b150-local.cfg": header + "account.1.label = backup\n",
        ])
        #expect(try server.provision().value("account.1.label") == "backup")
    }

    @Test("R5.4: when the server has none, the stored file is used")
    func syncMissing() throws {
        var server = MemoryServer(["y000000000028.cfg": header + Self.protect + "static.auto_provision.custom.sync = 1\n"])
        let outcome = try server.provision(local: header + "account.1.label = stored\n")
        #expect(outcome.tried.suffix(2) == [
            "mac-local 00156574b150-local.cfg missing", "mac-local stored-local.cfg applied",
        ])
        #expect(outcome.value("account.1.label") == "stored")
    }
}
