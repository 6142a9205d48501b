@testable import ProvisioningCore
import Testing

/// A provisioning server in memory: paths relative to `tftp://srv/`.
struct MemoryServer {
    var files: [String: String]
    var fetched: [String] = []

    init(_ files: [String: String]) {
        self.files = files
    }

    static let root = try! ProvisioningURL("tftp://srv/")

    mutating func provision(
        mac: String = "00156574B150", model: String = "T46G", url: String = "tftp://srv/",
        previous: PhoneState? = nil, local: String? = nil
    ) throws -> ProvisioningOutcome {
        let request = ProvisioningRequest(
            serverURL: ServerURLTemplate(url), mac: try MACAddress(mac),
            model: try ModelCatalog.requireModel(named: model), previous: previous,
            localFile: local.map { StoredLocalFile(name: "stored-local.cfg", file: ConfigFile(text: $0)) })
        var fetched: [String] = []
        let files = self.files
        let outcome = try Provisioning.run(request) { url in
            guard let path = url.path(relativeTo: MemoryServer.root) else { return .unreachable("elsewhere") }
            fetched.append(path)
            return files[path].map { .found(Array($0.utf8)) } ?? .notFound
        }
        self.fetched = fetched
        return outcome
    }
}

extension ProvisioningOutcome {
    var tried: [String] { files.map { "\($0.role.rawValue) \($0.path) \($0.status.rawValue)" } }
    func value(_ key: String) -> String? { settings[key]?.value }
}

let header = "#!version:1.0.0.1\n"

@Suite("Download order (R3)", .timeLimit(.minutes(2)))
struct DownloadOrderTests {
    @Test("R3.1: the MAC-oriented boot file, its includes in order, then the MAC-local file")
    func macBoot() throws {
        var server = MemoryServer([
            "00156574b150.boot": header + "include:config <account.cfg>\ninclude:config \"network.cfg\"\n",
            "account.cfg": header + "account.1.label = abc\n",
            "network.cfg": header + "static.network.vlan.internet_port_enable = 0\n",
            "y000000000000.boot": header + "include:config <never.cfg>\n",
        ])
        let outcome = try server.provision(local: header + "account.1.label = mine\n")
        #expect(outcome.tried == [
            "mac-boot 00156574b150.boot applied", "include account.cfg applied", "include network.cfg applied",
            "mac-local stored-local.cfg applied",
        ])
        #expect(server.fetched == ["00156574b150.boot", "account.cfg", "network.cfg"])
        #expect(outcome.value("account.1.label") == "mine")
    }

    @Test("R3.2: without a MAC boot file, the common boot file and its includes")
    func commonBoot() throws {
        var server = MemoryServer([
            "y000000000000.boot": BootFileTests.guideBoot,
            "sip.cfg": header + "account.1.label = abc\n",
            "features.cfg": header + "features.dnd_mode = 0\nfeatures.dnd.enable = 1\n",
        ])
        let outcome = try server.provision()
        #expect(outcome.tried == [
            "mac-boot 00156574b150.boot missing", "common-boot y000000000000.boot applied",
            "include tftp://10.2.5.193/network.cfg ignored", "include sip.cfg applied", "include features.cfg applied",
        ])
        #expect(outcome.overwriteMode)
    }

    @Test("R3.3: without boot files, the model's common CFG file, then <mac>.cfg, then MAC-local")
    func legacy() throws {
        var server = MemoryServer([
            "y000000000028.cfg": header + "a = common\nb = common\n",
            "00156574b150.cfg": header + "b = mac\n",
        ])
        let outcome = try server.provision(local: header + "c = local\n")
        #expect(server.fetched == ["00156574b150.boot", "y000000000000.boot", "y000000000028.cfg", "00156574b150.cfg"])
        #expect(outcome.tried.last == "mac-local stored-local.cfg ignored")
        #expect(outcome.value("a") == "common")
        #expect(outcome.value("b") == "mac")
        #expect(!outcome.overwriteMode)
    }

    @Test("R3.3: the common CFG name is the model's (R7.1), in lower case", arguments: [
        ("W60", "y000000000077.cfg"), ("T52S", "y000000000074.cfg"), ("T19(P) E2", "y000000000053.cfg"),
    ])
    func legacyCommonName(model: String, file: String) throws {
        var server = MemoryServer([:])
        _ = try server.provision(model: model)
        #expect(server.fetched[2] == file)
    }

    @Test("R3.4: when both boot files exist only the MAC-oriented one is used")
    func bothBootFiles() throws {
        var server = MemoryServer([
            "00156574b150.boot": header + "include:config <mac.cfg>\n",
            "y000000000000.boot": header + "include:config <common.cfg>\n",
            "mac.cfg": header + "x = mac\n", "common.cfg": header + "x = common\n",
        ])
        let outcome = try server.provision()
        #expect(!server.fetched.contains("y000000000000.boot"))
        #expect(!server.fetched.contains("common.cfg"))
        #expect(outcome.value("x") == "mac")
    }

    @Test("R3.5: a missing or invalid include is recorded and skipped; later files still apply")
    func missingInclude() throws {
        var server = MemoryServer([
            "y000000000000.boot": header
                + "include:config <gone.cfg>\ninclude:config <noheader.cfg>\ninclude:config “curly.cfg”\n"
                + "include:config <last.cfg>\n",
            "noheader.cfg": "x = 1\n", "last.cfg": header + "y = 2\n",
        ])
        let outcome = try server.provision()
        #expect(outcome.tried.suffix(3) == [
            "include gone.cfg missing", "include noheader.cfg invalid", "include last.cfg applied",
        ])
        #expect(outcome.value("x") == nil)
        #expect(outcome.value("y") == "2")
    }

    @Test("R1.1: a boot file without the header is rejected; the phone goes on as if it were missing")
    func invalidBootFile() throws {
        var server = MemoryServer([
            "00156574b150.boot": "include:config <a.cfg>\n",
            "y000000000028.cfg": header + "a = 1\n",
        ])
        let outcome = try server.provision()
        #expect(outcome.tried.prefix(3) == [
            "mac-boot 00156574b150.boot invalid", "common-boot y000000000000.boot missing",
            "common-cfg y000000000028.cfg applied",
        ])
    }

    @Test("R3.6: with $PN the phone provisions from its model's directory (the Guide's T42G/T46G example)")
    func productNameDirectories() throws {
        var server = MemoryServer([
            "T42G/y000000000000.boot": header + "include:config <t42.cfg>\ninclude:config <../shared.cfg>\n",
            "T42G/t42.cfg": header + "model = T42G\n",
            "T46G/y000000000000.boot": header + "include:config <t46.cfg>\n",
            "T46G/t46.cfg": header + "model = T46G\n",
            "shared.cfg": header + "shared = yes\n",
        ])
        let t42 = try server.provision(mac: "00156543EC97", model: "SIP-T42G", url: "tftp://srv/$PN")
        #expect(server.fetched == ["T42G/00156543ec97.boot", "T42G/y000000000000.boot", "T42G/t42.cfg", "shared.cfg"])
        #expect(t42.value("model") == "T42G")
        #expect(t42.value("shared") == "yes")
        let t46 = try server.provision(mac: "001565000001", model: "T46G", url: "tftp://srv/$PN")
        #expect(t46.value("model") == "T46G")
    }

    @Test("R3.6: $PN follows static.auto_provision.url_wildcard.pn when the phone has it")
    func productNameSetting() throws {
        var server = MemoryServer(["lab/y000000000000.boot": header])
        let previous = PhoneState(settings: [
            ServerURLTemplate.productNameKey: SettingSource(value: "lab", file: "x.cfg", line: 2),
        ])
        _ = try server.provision(url: "tftp://srv/$PN/", previous: previous)
        #expect(server.fetched == ["lab/00156574b150.boot", "lab/y000000000000.boot"])
    }

    @Test("R3.6: a URL naming a .boot file downloads only that boot file and its includes")
    func namedBootFile() throws {
        var server = MemoryServer([
            "T42G/00156543ec97.boot": header + "include:config <a.cfg>\n",
            "T42G/a.cfg": header + "a = 1\n",
            "T42G/y000000000029.cfg": header + "never = 1\n",
        ])
        let outcome = try server.provision(mac: "00156543EC97", model: "T42G", url: "tftp://srv/$PN/$MAC.boot")
        #expect(server.fetched == ["T42G/00156543ec97.boot", "T42G/a.cfg"])
        #expect(outcome.tried == ["mac-boot T42G/00156543ec97.boot applied", "include T42G/a.cfg applied"])
        var missing = MemoryServer([:])
        let none = try missing.provision(mac: "00156543EC97", model: "T42G", url: "tftp://srv/$PN/$MAC.boot")
        #expect(missing.fetched == ["T42G/00156543ec97.boot"])
        #expect(none.settings.isEmpty)
    }

    @Test("a server URL that is not a URL after wildcards is an error")
    func badServerURL() {
        var server = MemoryServer([:])
        #expect(throws: ProvisioningURLError.self) { try server.provision(url: "server/$PN") }
    }
}

@Suite("Boot-file settings and resource files (R2.5, R3.7)", .timeLimit(.minutes(2)))
struct BootSettingsAndResourcesTests {
    @Test("R2.5: settings in a boot file other than overwrite_mode are ignored")
    func bootSettingsIgnored() throws {
        var server = MemoryServer([
            "y000000000000.boot": header + "include:config <a.cfg>\naccount.1.label = from-boot\n",
            "a.cfg": header + "a = 1\n",
        ])
        let outcome = try server.provision()
        #expect(outcome.value("account.1.label") == nil)
        #expect(outcome.value("a") == "1")
    }

    @Test("R3.7: resource URLs are settings, not configuration files: they are not fetched while provisioning")
    func resourcesAreNotConfiguration() throws {
        var server = MemoryServer([
            "y000000000028.cfg": header + "ringtone.url = tftp://srv/Customring.wav\n"
                + "static.firmware.url = tftp://srv/T46-28.81.0.110.rom\nwallpaper_upload.url = tftp://srv/bg.cfg\n",
            "Customring.wav": "RIFF", "bg.cfg": header + "never = 1\n",
        ])
        let outcome = try server.provision()
        #expect(server.fetched == ["00156574b150.boot", "y000000000000.boot", "y000000000028.cfg", "00156574b150.cfg"])
        #expect(outcome.value("ringtone.url") == "tftp://srv/Customring.wav")
        #expect(outcome.value("never") == nil)
    }
}

@Suite("Parsers and random input", .timeLimit(.minutes(2)))
struct RandomInputTests {
    @Test("property: random text never crashes the MAC, User-Agent, URL, path and model parsers")
    func randomText() {
        var generator = SeededGenerator(seed: 42)
        let alphabet = Array("0123456789abcdefABCDEF:-./%?#@[] \tYealinkSIP-TxyzP_E2()<>\"\\\u{0}é“")
        for _ in 0..<5000 {
            let length = Int.random(in: 0..<40, using: &generator)
            let text = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
            _ = try? MACAddress(text)
            _ = try? UserAgent(text)
            _ = ModelCatalog.model(named: text)
            _ = try? RootRelativePath(text)
            if let url = try? ProvisioningURL("http://h/a/b.boot") { _ = try? url.resolving(text) }
            _ = try? ProvisioningURL(text)
            _ = ProvisioningURL.percentDecoded(text)
            _ = try? ServerURLTemplate(text).start(productName: "T46G", mac: MACAddress(octets: [0, 0x15, 0x65, 0, 0, 1]))
        }
    }
}

@Suite("A provisioning one download at a time (the fleet's phones)", .timeLimit(.minutes(2)))
struct ProvisioningSessionTests {
    static let trees: [String: [String: String]] = [
        "boot mode": [
            "00156574b150.boot": header + "include:config <account.cfg>\ninclude:config \"missing.cfg\"\n"
                + "include:config \"bad.cfg\"\ninclude:config \"network.cfg\"\noverwrite_mode = 1\n",
            "account.cfg": header + "account.1.label = abc\n",
            "bad.cfg": "no header\n",
            "network.cfg": header + "static.network.vlan.internet_port_enable = 0\n",
        ],
        "legacy with a synced local file": [
            "y000000000028.cfg": header + "static.auto_provision.custom.sync = 1\nstatic.auto_provision.custom.protect = 1\n",
            "00156574b150.cfg": header + "account.1.label = server\n",
            "00156574b150-local.cfg": header + "account.1.label = local\n",
        ],
        "nothing there": [:],
    ]

    @Test("R3, R4, R5: the session asks for exactly the URLs run fetches, in its order, each once, and ends with its outcome",
          arguments: ["boot mode", "legacy with a synced local file", "nothing there"])
    func sameAsRun(tree: String) throws {
        let files = ProvisioningSessionTests.trees[tree]!
        for previous in [nil, PhoneState()] as [PhoneState?] {
            var server = MemoryServer(files)
            let expected = try server.provision(previous: previous)
            let request = ProvisioningRequest(
                serverURL: ServerURLTemplate("tftp://srv/"), mac: try MACAddress("00156574B150"),
                model: try ModelCatalog.requireModel(named: "T46G"), previous: previous)
            var session = ProvisioningSession(request: request)
            var asked: [String] = []
            while let url = try session.next() {
                let path = try #require(url.path(relativeTo: MemoryServer.root))
                #expect(!asked.contains(path), "\(path) asked twice")
                asked.append(path)
                session.received(files[path].map { .found(Array($0.utf8)) } ?? .notFound, for: url)
            }
            #expect(asked == server.fetched)
            #expect(session.outcome == expected)
        }
        // A phone that provisioned before and finds every file unchanged (R4.4) asks for the same files.
        var server = MemoryServer(files)
        let first = try server.provision()
        let again = try server.provision(previous: first.state)
        var session = ProvisioningSession(request: ProvisioningRequest(
            serverURL: ServerURLTemplate("tftp://srv/"), mac: try MACAddress("00156574B150"),
            model: try ModelCatalog.requireModel(named: "T46G"), previous: first.state))
        while let url = try session.next() {
            let path = try #require(url.path(relativeTo: MemoryServer.root))
            session.received(files[path].map { .found(Array($0.utf8)) } ?? .notFound, for: url)
        }
        #expect(session.outcome == again)
    }

    @Test("a server URL that is not a URL after wildcards is the same error as run's")
    func badURL() throws {
        var session = ProvisioningSession(request: ProvisioningRequest(
            serverURL: ServerURLTemplate("server/$PN"), mac: try MACAddress("00156574B150"),
            model: try ModelCatalog.requireModel(named: "T46G")))
        #expect(throws: ProvisioningURLError.self) { try session.next() }
    }
}
