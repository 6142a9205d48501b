import Foundation
import Testing
import TestSupport

/// `autoprov simulate`: the phone's algorithm downloading from the real server over HTTP, HTTPS and TFTP, checked
/// against `resolve` reading the same tree from disk: the same files tried, the same statuses and MD5s, the same
/// settings from the same file lines.
@Suite("autoprov simulate: a phone on the network, the same result as resolve on the same tree", .blocking, .timeLimit(.minutes(3)))
struct SimulateTests {
    /// Legacy mode (R3.3): the model's common CFG, then `<mac>.cfg`, the MAC-local file applied last when protected.
    static let legacy = [
        "y000000000028.cfg": "#!version:1.0.0.1\nlang.wui = English\nstatic.auto_provision.custom.protect = 1\n",
        "00156574b150.cfg": "#!version:1.0.0.1\naccount.1.label = Desk\nlang.wui = French\n",
    ]
    /// Boot mode (R2, R3.1): `<mac>.boot` with includes in a folder, resolved against the boot file's URL, and
    /// overwrite mode.
    static let boot = [
        "00156574b150.boot": "#!version:1.0.0.1\ninclude:config <configs/common.cfg>\ninclude:config \"configs/desk.cfg\"\noverwrite_mode = 1\n",
        "configs/common.cfg": "#!version:1.0.0.1\nlang.wui = English\naccount.1.enable = 1\n",
        "configs/desk.cfg": "#!version:1.0.0.1\naccount.1.label = Desk\naccount.1.enable = 0\n",
    ]

    static func json(_ result: CommandRunner.Result) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stderr)")
    }

    /// What must agree: each file tried (role, path, status, MD5) and each setting (value, file, line).
    static func essence(_ object: [String: Any]) -> [String] {
        let files = (object["files"] as? [[String: Any]] ?? []).map { file in
            ["role", "path", "status", "md5"].map { "\(file[$0] ?? "-")" }.joined(separator: " ")
        }
        let settings = (object["settings"] as? [String: [String: Any]] ?? [:]).sorted { $0.key < $1.key }.map { key, setting in
            "\(key) = \(setting["value"] ?? "(default)") @ \(setting["file"] ?? "-"):\(setting["line"] ?? "-")"
        }
        return files + settings
    }

    func agree(_ tree: [String: String], extra: [String] = []) throws {
        let server = try ServerProcess(files: tree, configuration: "[ftp]\nanonymous = true\n")
        for base in [server.http, server.tftp, server.https, "ftp://\(server.ftpHostPort)"] {
            let url = base + "/"
            let tls = base.hasPrefix("https") ? ["--insecure"] : []
            let simulated = try CommandRunner.run(["simulate", "--url", url, "--mac", "00:15:65:74:B1:50", "--model", "T46G",
                                                   "--format", "json"] + tls + extra)
            #expect(simulated.status == 0, "\(url): \(simulated.stderr)")
            let resolved = try CommandRunner.run(["resolve", "--root", server.root.path, "--mac", "00:15:65:74:B1:50",
                                                  "--model", "T46G", "--url", url, "--format", "json"] + extra)
            let (phone, disk) = (try Self.json(simulated), try Self.json(resolved))
            #expect(Self.essence(phone) == Self.essence(disk), "\(url)")
            #expect(Self.essence(phone).contains { $0.contains(" applied ") }, "a configuration file was reached")
            // Each download is listed with the protocol's answer.
            let transfers = phone["transfers"] as? [[String: Any]] ?? []
            let tried = (phone["files"] as? [[String: Any]] ?? []).count
            #expect(transfers.count == tried && transfers.allSatisfy { ($0["url"] as? String)?.hasPrefix(base) == true },
                    "\(transfers)")
        }
        #expect(server.stop() == 0)
    }

    @Test("legacy mode (R3.3, R5.2) over HTTP, TFTP, HTTPS and FTP: the files and settings resolve finds on disk")
    func legacyMode() throws {
        try agree(Self.legacy)
    }

    @Test("boot mode (R2.3, R3.1, R4.3): includes resolved against the boot file's URL, overwrite mode, as resolve sees them")
    func bootMode() throws {
        try agree(Self.boot)
    }

    @Test("R4.4 with --state: a second run against an unchanged server says unchanged; a changed file is downloaded and applied")
    func stateAndUnchanged() throws {
        let server = try ServerProcess(files: Self.legacy)
        let state = server.directory.appendingPathComponent("phone.json").path
        let arguments = ["simulate", "--url", server.http + "/", "--mac", "00156574b150", "--model", "T46G", "--state", state,
                         "--format", "json"]
        #expect(try Self.json(try CommandRunner.run(arguments))["unchanged"] as? Bool == false)
        let again = try Self.json(try CommandRunner.run(arguments))
        #expect(again["unchanged"] as? Bool == true, "\(again)")
        try "#!version:1.0.0.1\naccount.1.label = Lobby\n".write(to: server.root.appendingPathComponent("00156574b150.cfg"),
                                                                   atomically: true, encoding: .utf8)
        // The server picks the edit up from its file watcher; the phone, on its next provisioning after that.
        var changed: [String: Any] = [:]
        #expect(eventually(within: 20) {
            changed = (try? Self.json(try CommandRunner.run(arguments))) ?? [:]
            return changed["unchanged"] as? Bool == false
        }, "\(changed)")
        #expect(((changed["settings"] as? [String: [String: Any]])?["account.1.label"])?["value"] as? String == "Lobby")
        #expect(server.stop() == 0)
    }

    @Test("the User-Agent it sends is a Yealink phone's, so the server's log and registry know it; credentials answer a 401 (S5)")
    func identityAndCredentials() throws {
        let server = try ServerProcess(files: ["T23G_1/y000000000044.cfg": "#!version:1.0.0.1\nsecret = yes\n"],
                                       configuration: "[[directory]]\npath = \"T23G_1\"\nusername = \"user1\"\npassword = \"secret1\"\n")
        let url = server.http + "/T23G_1/"
        let refused = try CommandRunner.run(["simulate", "--url", url, "--mac", "00156574b151", "--model", "T23G"])
        #expect(refused.status == 1, "no credentials: the phone reaches no configuration (\(refused.stdout))")
        #expect(refused.stdout.contains("y000000000044.cfg: 401"), "\(refused.stdout)")
        let allowed = try CommandRunner.run(["simulate", "--url", url, "--mac", "00156574b151", "--model", "T23G",
                                             "--username", "user1", "--password", "secret1", "--firmware", "44.84.0.10"])
        #expect(allowed.status == 0 && allowed.stdout.contains("secret = yes"), "\(allowed.stdout)\(allowed.stderr)")
        // A fleet answers the 401 the same way; without credentials its phones fail, refused.
        let fleet = try CommandRunner.run(["simulate", "--fleet", "20", "--concurrency", "5", "--model", "T23G", "--url", url,
                                           "--username", "user1", "--password", "secret1"])
        #expect(fleet.status == 0 && fleet.stdout.contains("phones: 20, 20 completed, 0 failed"), "\(fleet.stdout)\(fleet.stderr)")
        let strangers = try CommandRunner.run(["simulate", "--fleet", "20", "--concurrency", "5", "--model", "T23G", "--url", url])
        #expect(strangers.status == 1 && strangers.stdout.contains("phones: 20, 0 completed, 20 failed")
                && strangers.stdout.contains("refused"), "\(strangers.stdout)\(strangers.stderr)")
        // Over FTP the directory's account logs in (from the options, or from the URL as phones are often given it).
        for (ftpURL, extra) in [("ftp://\(server.ftpHostPort)/T23G_1/", ["--username", "user1", "--password", "secret1"]),
                                ("ftp://user1:secret1@\(server.ftpHostPort)/T23G_1/", [])] {
            let ftp = try CommandRunner.run(["simulate", "--url", ftpURL, "--mac", "00156574b151", "--model", "T23G"] + extra)
            #expect(ftp.status == 0 && ftp.stdout.contains("secret = yes"), "\(ftpURL): \(ftp.stdout)\(ftp.stderr)")
        }
        let wrong = try CommandRunner.run(["simulate", "--url", "ftp://user1:nope@\(server.ftpHostPort)/T23G_1/", "--mac",
                                           "00156574b151", "--model", "T23G"])
        #expect(wrong.status == 1 && wrong.stdout.contains(": 530, 0 bytes"), "\(wrong.stdout)")
        #expect(eventually(within: 20) {
            let devices = (try? CommandRunner.run(["devices", "--data", server.data.path]).stdout) ?? ""
            return devices.contains("00156574b151") && devices.contains("44.84.0.10")
        })
        #expect(server.stop() == 0)
    }

    @Test("over HTTPS it offers the key exchanges of a phone's TLS stack (X25519, P-256, P-384), not the post-quantum hybrid")
    func phoneKeyExchanges() throws {
        let server = try ServerProcess(files: ["y000000000028.cfg": "#!version:1.0.0.1\na = 1\n"])
        let traced = try OpenSSLServer(certificate: server.data.appendingPathComponent("tls/cert.pem"),
                                       key: server.data.appendingPathComponent("tls/key.pem"), arguments: ["-trace"])
        _ = try CommandRunner.run(["simulate", "--url", "https://127.0.0.1:\(traced.port)/", "--mac", "00156574b150",
                                   "--model", "T46G", "--insecure"])
        #expect(eventually { traced.output.contains("supported_groups") })
        // The ClientHello's list: from its extension to the next one.
        let output = traced.output
        let groups = output.range(of: "supported_groups").map { start in
            String(output[start.upperBound...].prefix { _ in true }.split(separator: "extension_type").first ?? "")
        } ?? ""
        #expect(groups.contains("ecdh_x25519") && groups.contains("secp256r1") && groups.contains("secp384r1"), "\(groups)")
        #expect(!groups.contains("4588") && !groups.lowercased().contains("mlkem"), "\(groups)")
    }

    @Test("failures: no configuration reached is exit 1 with each attempt listed; a server that is not there is retried, then given up; usage errors are 2")
    func failures() throws {
        let server = try ServerProcess(files: [:])
        let empty = try CommandRunner.run(["simulate", "--url", server.http + "/", "--mac", "00156574b150", "--model", "T46G"])
        #expect(empty.status == 1 && empty.stdout.contains("00156574b150.cfg: 404"), "\(empty.stdout)")
        #expect(server.stop() == 0)
        // Port 1, where nothing listens (a stopped server's port may be taken by another test's server at once): the
        // connection is refused, three attempts a second apart.
        let gone = try CommandRunner.run(["simulate", "--url", "http://127.0.0.1:1/", "--mac", "00156574b150", "--model", "T46G"])
        #expect(gone.status == 1 && gone.stdout.contains("connection refused, 0 bytes") && gone.stdout.contains("3 attempts"),
                "exit \(gone.status): \(gone.stdout)\(gone.stderr)")
        #expect(try CommandRunner.run(["simulate", "--url", "gopher://x/", "--mac", "00156574b150", "--model", "T46G"]).status == 2)
        #expect(try CommandRunner.run(["simulate", "--url", "http://127.0.0.1:1/", "--mac", "nonsense", "--model", "T46G"]).status == 2)
        #expect(try CommandRunner.run(["simulate", "--url", "http://127.0.0.1:1/", "--mac", "00156574b150"]).status == 2)
    }

    @Test("an encrypted root (R6.2, R6.3, [encryption] on the fly): decrypted with the keys given, or with each file's _Security.enc; the settings resolve reads from the plain tree")
    func encryptedRoot() throws {
        let (commonKey, macKey) = ("0123456789abcdef", "fedcba9876543210")
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-keys-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: keys) }
        try "00:15:65:74:B1:50,\(macKey)\n".write(to: keys, atomically: true, encoding: .utf8)
        let server = try ServerProcess(files: Self.legacy, configuration: """
            [encryption]
            common_key = "\(commonKey)"
            keys = "\(keys.path)"
            """)
        let encrypted = try Client.run("curl", ["-s", server.http + "/00156574b150.cfg"]).stdout
        #expect(!encrypted.contains("account.1.label"), "the server encrypts it")
        let resolved = try Self.json(try CommandRunner.run(["resolve", "--root", server.root.path, "--mac", "00156574b150",
                                                             "--model", "T46G", "--format", "json"]))
        let settings = { (object: [String: Any]) in Self.essence(object).filter { !$0.contains(".cfg ") } }
        for extra in [["--common-key", commonKey, "--mac-key", macKey], []] {
            let simulated = try CommandRunner.run(["simulate", "--url", server.tftp + "/", "--mac", "00156574b150",
                                                   "--model", "T46G", "--format", "json"] + extra)
            #expect(simulated.status == 0, "\(extra): \(simulated.stdout)\(simulated.stderr)")
            let phone = try Self.json(simulated)
            #expect(settings(phone) == settings(resolved) && settings(phone).contains { $0.hasPrefix("account.1.label = Desk") },
                    "\(extra): \(settings(phone))")
            let fetched = (phone["transfers"] as? [[String: Any]] ?? []).compactMap { $0["url"] as? String }
            #expect(fetched.contains { $0.hasSuffix("00156574b150_Security.enc") } == extra.isEmpty, "\(fetched)")
        }
        let wrongKey = try CommandRunner.run(["simulate", "--url", server.http + "/", "--mac", "00156574b150", "--model", "T46G",
                                              "--mac-key", "AAAAAAAAAAAAAAAA", "--common-key", "BBBBBBBBBBBBBBBB"])
        #expect(wrongKey.status == 1 || !wrongKey.stdout.contains("account.1.label = Desk"), "\(wrongKey.stdout)")
        #expect(server.stop() == 0)
    }

    @Test("R5.4: with custom.sync = 1 the phone's own local file is uploaded (PUT) when the server's copy differs, then downloaded and applied; an equal copy is not sent again")
    func localFileSync() throws {
        let server = try ServerProcess(files: [
            "00156574b150.cfg": "#!version:1.0.0.1\nstatic.auto_provision.custom.sync = 1\nstatic.auto_provision.custom.protect = 1\nlang.gui = English\n",
        ], configuration: "[uploads]\nallow = [\"*-local.cfg\"]\n")
        let local = server.directory.appendingPathComponent("phone-local.cfg")
        try "#!version:1.0.0.1\nlang.gui = German\n".write(to: local, atomically: true, encoding: .utf8)
        let arguments = ["simulate", "--url", server.http + "/", "--mac", "00156574b150", "--model", "T46G", "--local", local.path]
        let first = try CommandRunner.run(arguments)
        #expect(first.status == 0 && first.stdout.contains("lang.gui = German"), "\(first.stdout)\(first.stderr)")
        #expect(first.stdout.contains("# \(server.http)/00156574b150-local.cfg: 404"), "none on the server yet: \(first.stdout)")
        #expect(first.stdout.contains("# PUT \(server.http)/00156574b150-local.cfg: 201, 36 bytes"), "\(first.stdout)")
        let stored = try Client.curl([server.http + "/00156574b150-local.cfg"])
        #expect(stored.status == 200 && stored.body.contains("lang.gui = German"), "\(stored)")
        let second = try CommandRunner.run(arguments)
        #expect(second.stdout.contains("# \(server.http)/00156574b150-local.cfg: 200, 36 bytes") && !second.stdout.contains("# PUT"),
                "\(second.stdout)")
        #expect(server.stop() == 0)
    }

    @Test("R3.7: resource files the configuration names are listed, resolved against the provisioning directory, and fetched after it with --resources")
    func resourceFiles() throws {
        let server = try ServerProcess(files: [
            "00156574b150.cfg": "#!version:1.0.0.1\nstatic.firmware.url = firmware/T46G-28.86.0.15.rom\nringtone.url = \(Self.placeholderHost)/ring.wav\nstatic.auto_provision.server.url = http://elsewhere.invalid/\n",
            "firmware/T46G-28.86.0.15.rom": String(repeating: "R", count: 5000),
        ])
        let arguments = ["simulate", "--url", server.http + "/", "--mac", "00156574b150", "--model", "T46G", "--format", "json"]
        let listed = try Self.json(try CommandRunner.run(arguments))
        let resources = listed["resources"] as? [[String: Any]] ?? []
        #expect(resources.compactMap { $0["key"] as? String } == ["ringtone.url", "static.firmware.url"], "\(resources)")
        #expect(resources.last?["url"] as? String == server.http + "/firmware/T46G-28.86.0.15.rom")
        #expect((listed["transfers"] as? [[String: Any]] ?? []).count == 4, "listed, not fetched")
        let fetched = try Self.json(try CommandRunner.run(arguments + ["--resources"]))
        let firmware = (fetched["transfers"] as? [[String: Any]] ?? []).first { ($0["url"] as? String)?.hasSuffix(".rom") == true }
        #expect(firmware?["result"] as? String == "200" && firmware?["bytes"] as? Int == 5000, "\(fetched["transfers"] ?? "")")
        #expect(server.stop() == 0)
    }

    @Test("--fleet: hundreds of phones at once over HTTP and TFTP, each with the whole sequence; the server's own counters see exactly their requests; a fleet that cannot provision fails with its reason")
    func fleet() throws {
        let server = try ServerProcess(files: [
            "y000000000028.cfg": "#!version:1.0.0.1\nlang.wui = English\n", "y000000000066.cfg": "#!version:1.0.0.1\nlang.wui = French\n",
        ])
        let summaryFile = server.directory.appendingPathComponent("fleet.json")
        let http = try CommandRunner.run(["simulate", "--fleet", "300", "--concurrency", "30", "--models", "T46G,T46S",
                                          "--url", server.http + "/", "--json", summaryFile.path])
        #expect(http.status == 0 && http.stdout.contains("phones: 300, 300 completed, 0 failed"), "\(http.stdout)\(http.stderr)")
        #expect(http.stdout.contains("files: 1200,"), "four files a phone: two boot files, the common CFG, <mac>.cfg")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: summaryFile)) as? [String: Any])
        #expect(summary["completed"] as? Int == 300 && summary["files"] as? Int == 1200, "\(summary)")
        #expect((summary["fileLatency"] as? [String: Double])?["p99"] != nil)
        // The server counted one common CFG served and three misses per phone, and nothing else.
        let metrics = try Client.curl([server.http + "/metrics"]).body
        #expect(metrics.contains(#"autoprov_requests_total{protocol="http",result="ok"} 300"#), "\(metrics)")
        #expect(metrics.contains(#"autoprov_requests_total{protocol="http",result="not-found"} 900"#))

        // Over TFTP, the ceiling against a TFTP responder: each phone's legacy sequence, two boot files missing and
        // two CFG files found, then the server.
        let tftp = try CommandRunner.run(["simulate", "--fleet", "60", "--concurrency", "20", "--model", "T46S",
                                          "--mac-start", "00:15:65:10:00:00", "--against-null", "--url", server.tftp + "/"])
        #expect(tftp.status == 0 && tftp.stdout.components(separatedBy: "phones: 60, 60 completed, 0 failed").count == 3,
                "\(tftp.stdout)\(tftp.stderr)")
        let ceiling = try #require(tftp.stdout.components(separatedBy: "against tftp://").first)
        #expect(ceiling.contains("against a null responder") && ceiling.contains("files: 240, 2160 bytes"), "\(tftp.stdout)")

        // Over HTTPS, the ceiling against a responder that makes a full TLS handshake on each connection, its
        // certificate made for the run and verified as the server's is (here, with the server's own as --ca).
        let https = try CommandRunner.run(["simulate", "--fleet", "40", "--concurrency", "10", "--model", "T46S",
                                           "--mac-start", "00:15:65:30:00:00", "--against-null",
                                           "--ca", server.data.appendingPathComponent("tls/cert.pem").path,
                                           "--url", server.https + "/"])
        #expect(https.status == 0 && https.stdout.components(separatedBy: "phones: 40, 40 completed, 0 failed").count == 3,
                "\(https.stdout)\(https.stderr)")
        #expect(https.stdout.contains("against a null responder at https://127.0.0.1:") && https.stdout.contains("files: 160,"),
                "\(https.stdout)")

        // The phones of an inventory CSV, and the simulator's own ceiling measured first in the same run.
        let csv = server.directory.appendingPathComponent("devices.csv")
        try ("mac,model,label\n" + (0..<25).map { String(format: "00:15:65:20:00:%02x,T46S,Desk %d\n", $0, $0) }.joined())
            .write(to: csv, atomically: true, encoding: .utf8)
        let listed = try CommandRunner.run(["simulate", "--fleet", "20", "--devices", csv.path, "--concurrency", "10",
                                            "--against-null", "--url", server.http + "/"])
        #expect(listed.status == 0, "\(listed.stdout)\(listed.stderr)")
        #expect(listed.stdout.components(separatedBy: "phones: 20, 20 completed, 0 failed").count == 3,
                "the first 20 of the file, against the null responder and then the server: \(listed.stdout)")
        #expect(listed.stdout.contains("against a null responder") && listed.stdout.contains("the simulator's ceiling"))
        try "mac,model\n00:15:65:20:00:01,T999\n".write(to: csv, atomically: true, encoding: .utf8)
        let badCSV = try CommandRunner.run(["simulate", "--fleet", "1", "--devices", csv.path, "--url", server.http + "/"])
        #expect(badCSV.status == 2 && badCSV.stderr.contains("devices.csv:2:"), "\(badCSV.stderr)")

        // --duration stops starting phones (those started finish); --jitter spreads their starts.
        let bounded = try CommandRunner.run(["simulate", "--fleet", "1000", "--concurrency", "2", "--jitter", "0.2",
                                             "--duration", "0.5", "--model", "T46S", "--url", server.http + "/"])
        let started = bounded.stdout.firstMatch(of: #/phones: (\d+), (\d+) completed, 0 failed/#)
        #expect(bounded.status == 0 && started.map { Int($0.1) == Int($0.2) && Int($0.1)! < 1000 && Int($0.1)! > 0 } == true,
                "\(bounded.stdout)")

        let none = try CommandRunner.run(["simulate", "--fleet", "10", "--concurrency", "5", "--model", "T54W",
                                          "--url", server.http + "/"])
        #expect(none.status == 1 && none.stdout.contains("phones: 10, 0 completed, 10 failed (10 not found)"), "\(none.stdout)")
        #expect(try CommandRunner.run(["simulate", "--fleet", "10", "--mac", "00156574b150", "--url", server.http + "/"]).status == 2)
        #expect(server.stop() == 0)
    }

    @Test("--fleet with --local (R5.4): each phone downloads its MAC-local file and uploads its own when the server's copy differs; a second storm uploads nothing")
    func fleetLocalFileSync() throws {
        let server = try ServerProcess(files: [
            "y000000000066.cfg": "#!version:1.0.0.1\nstatic.auto_provision.custom.sync = 1\nstatic.auto_provision.custom.protect = 1\n",
        ], configuration: "[uploads]\nallow = [\"*-local.cfg\"]\n")
        let local = server.directory.appendingPathComponent("local.cfg")
        try "#!version:1.0.0.1\nlang.gui = German\n".write(to: local, atomically: true, encoding: .utf8)
        let arguments = ["simulate", "--fleet", "50", "--concurrency", "10", "--model", "T46S", "--local", local.path,
                         "--url", server.http + "/"]
        let first = try CommandRunner.run(arguments)
        #expect(first.status == 0 && first.stdout.contains("phones: 50, 50 completed") && first.stdout.contains("files: 300,"),
                "four files, the local file (404) and its upload, a phone: \(first.stdout)\(first.stderr)")
        let metrics = try Client.curl([server.http + "/metrics"]).body
        #expect(metrics.contains(#"autoprov_requests_total{protocol="http",result="stored"} 50"#), "\(metrics)")
        let again = try CommandRunner.run(arguments)
        #expect(again.stdout.contains("phones: 50, 50 completed") && again.stdout.contains("files: 250,"),
                "the server's copy is the phone's now: nothing uploaded: \(again.stdout)")
        #expect(server.stop() == 0)
    }

    /// A URL whose host is not resolved or contacted: the ring tone is listed only (fetching it would fail fast).
    static let placeholderHost = "http://127.0.0.1:1"
}
