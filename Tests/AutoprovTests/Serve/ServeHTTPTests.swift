import Foundation
import ProvisioningCore
import Testing
#if canImport(Glibc)
import Glibc
import TestSupport
#endif

let bootFile = "#!version:1.0.0.1\ninclude:config <sip.cfg>\n"
let sipFile = "#!version:1.0.0.1\naccount.1.label = abc\n"

@Suite("autoprov serve over HTTP and HTTPS (S1-S5)", .blocking, .serialized, .timeLimit(.minutes(5)))
struct ServeHTTPTests {
    @Test("GET and HEAD: the bytes, text/plain, an MD5 ETag; If-None-Match gives 304 (S3)")
    func getAndHead() throws {
        let server = try ServerProcess(files: ["y000000000000.boot": bootFile, "sip.cfg": sipFile])
        let get = try Client.curl(["-D", "-", "\(server.http)/y000000000000.boot"])
        #expect(get.status == 200)
        #expect(get.body.hasSuffix(bootFile))
        #expect(get.body.lowercased().contains("content-type: text/plain"))
        let md5 = "01dc7abaf1f6800d42f1c406e79bbb92"  // md5sum of bootFile
        #expect(get.body.contains("ETag: \"\(md5)\""))
        let head = try Client.curl(["-I", "\(server.http)/sip.cfg"])
        #expect(head.status == 200)
        #expect(head.body.lowercased().contains("content-length: \(sipFile.utf8.count)"))
        let cached = try Client.curl(["-H", "If-None-Match: \"\(md5)\"", "\(server.http)/y000000000000.boot"])
        #expect(cached.status == 304)
        #expect(cached.body.isEmpty)
        #expect(server.stop() == 0)
    }

    @Test("S3: an edit on disk is served with its new ETag; once one connection got it, none gets the old one")
    func edits() throws {
        let server = try ServerProcess(files: ["sip.cfg": sipFile])
        let get = {
            HTTPRobustnessTests.exchange(port: server.httpPort,
                                         Array("GET /sip.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        }
        // Every event loop remembers the first version. The connections are paced over more than a second, so that
        // each loop's own recheck falls due at another moment.
        for _ in 0..<60 {
            #expect(get().hasSuffix(sipFile))
            usleep(25_000)
        }
        let edited = sipFile + "account.1.enable = 1\n"
        try server.write("sip.cfg", edited)
        var answers: [String] = []
        #expect(eventually(within: 10) {
            answers.append(get())
            return answers.last!.hasSuffix(edited)
        })
        for _ in 0..<300 { answers.append(get()) }
        let first = try #require(answers.firstIndex { $0.hasSuffix(edited) })
        let older = answers[first...].filter { !$0.hasSuffix(edited) }.count
        #expect(older == 0, "\(older) of \(answers.count - first) answers after the first new one were older")
        // md5sum of the edited text, computed outside the server.
        #expect(answers[first].contains("ETag: \"320db9816f71a2b262d63af793baac5c\""), "\(answers[first])")
        try FileManager.default.removeItem(at: server.root.appendingPathComponent("sip.cfg"))
        #expect(try eventually { try Client.curl(["\(server.http)/sip.cfg"]).status == 404 })
    }

    @Test("S1: a missing file is a real 404; directories are not listed")
    func notFound() throws {
        let server = try ServerProcess(files: ["T42G/sip.cfg": sipFile])
        for path in ["/00156574b150.boot", "/", "/T42G", "/T42G/", "/nothing/here.cfg"] {
            let result = try Client.curl(["\(server.http)\(path)"])
            #expect([403, 404].contains(result.status), "\(path)")
            #expect(!result.body.contains("sip.cfg"))
        }
        #expect(try Client.curl(["\(server.http)/00156574b150.cfg"]).status == 404)
    }

    @Test("Range requests return the part asked for (firmware)")
    func range() throws {
        let server = try ServerProcess()
        let bytes = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        try server.writeBytes("T46-28.81.0.110.rom", bytes)
        let out = server.directory.appendingPathComponent("part")
        let result = try Client.run("curl", ["-s", "-r", "1000-1999", "-o", out.path, "-w", "%{http_code}",
                                             "\(server.http)/T46-28.81.0.110.rom"])
        #expect(result.stdout == "206")
        #expect(try Data(contentsOf: out) == bytes.subdata(in: 1000..<2000))
        let bad = try Client.curl(["-r", "200000-", "\(server.http)/T46-28.81.0.110.rom"])
        #expect(bad.status == 416)
    }

    @Test("HTTPS serves the same files with the generated certificate (TLS 1.2+)")
    func https() throws {
        let server = try ServerProcess(files: ["sip.cfg": sipFile])
        let result = try Client.curl(["--tlsv1.2", "\(server.https)/sip.cfg"])
        #expect(result.status == 200)
        #expect(result.body == sipFile)
        // A client lowered to TLS 1.1 at security level 0 (Debian's OpenSSL refuses 1.1 by itself otherwise)...
        let tls11 = ["-s", "-k", "-o", "/dev/null", "-w", "%{http_code}", "--tls-max", "1.1", "--ciphers",
                     "DEFAULT:@SECLEVEL=0"]
        // ...reaches a server that allows 1.1 (openssl s_server), so its refusal by autoprov is autoprov's own.
        let control = try OpenSSLServer.tls11(certificate: server.data.appendingPathComponent("tls/cert.pem"),
                                      key: server.data.appendingPathComponent("tls/key.pem"))
        #expect(try Client.run("curl", tls11 + ["https://127.0.0.1:\(control.port)/"]).stdout == "200")
        let old = try Client.run("curl", tls11 + ["\(server.https)/sip.cfg"])
        #expect(old.status == 35, "curl exit \(old.status): a refused handshake is 35")
        let certificate = server.data.appendingPathComponent("tls/cert.pem")
        #expect(FileManager.default.fileExists(atPath: certificate.path))
        let verified = try Client.curl(["--cacert", certificate.path, "\(server.https)/sip.cfg"])
        #expect(verified.status == 200)
    }

    @Test("TLS: 1.3, and 1.2 with forward-secret AEAD suites only, for ECDSA and RSA keys; `[https] ciphers` widens 1.2 for old phones (openssl s_client)")
    func strongSuitesOnly() throws {
        // A handshake with one TLS 1.2 suite (or TLS 1.3): s_client exits 0 when it completes, 1 when refused.
        func handshake(_ port: Int, _ suite: String?) throws -> Bool {
            let version = suite == nil ? ["-tls1_3"] : ["-tls1_2", "-cipher", "\(suite!):@SECLEVEL=0"]
            let result = try Client.run("openssl", ["s_client", "-connect", "127.0.0.1:\(port)"] + version,
                                        input: "", timeout: 20)
            return result.status == 0
        }
        let ecdsa = try ServerProcess(files: ["sip.cfg": sipFile])
        for suite in ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", nil] {
            #expect(try handshake(ecdsa.httpsPort, suite), "\(suite ?? "TLS 1.3") refused")
        }
        for suite in ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA256"] {
            #expect(try !handshake(ecdsa.httpsPort, suite), "\(suite) (CBC) accepted")
        }
        #expect(ecdsa.stop() == 0)

        // An RSA certificate: no RSA key exchange (no forward secrecy), no CBC, no 3DES.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-rsa-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = folder.appendingPathComponent("key.pem").path, certificate = folder.appendingPathComponent("cert.pem").path
        let made = try Client.run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                                              "/CN=127.0.0.1", "-keyout", key, "-out", certificate], timeout: 60)
        try #require(made.status == 0, "\(made.stderr)")
        let https = "[https]\ncertificate = \"\(certificate)\"\nprivate_key = \"\(key)\"\n"
        let rsa = try ServerProcess(files: ["sip.cfg": sipFile], configuration: https)
        #expect(try handshake(rsa.httpsPort, "ECDHE-RSA-AES128-GCM-SHA256"))
        for suite in ["AES128-GCM-SHA256", "AES128-SHA", "ECDHE-RSA-AES128-SHA", "DES-CBC3-SHA"] {
            #expect(try !handshake(rsa.httpsPort, suite), "\(suite) accepted")
        }
        #expect(rsa.stop() == 0)

        // An administrator with phones that only know CBC suites may list them; a list OpenSSL cannot use is refused.
        let wide = try ServerProcess(files: ["sip.cfg": sipFile],
                                     configuration: https + "ciphers = [\"ECDHE-RSA-AES128-GCM-SHA256\", \"ECDHE-RSA-AES128-SHA\"]\n")
        #expect(try handshake(wide.httpsPort, "ECDHE-RSA-AES128-SHA"))
        #expect(try !handshake(wide.httpsPort, "AES128-SHA"))
        #expect(wide.stop() == 0)
        let config = folder.appendingPathComponent("bad.toml")
        try (https + "ciphers = [\"ECDHE-RSA-AES128-GCM-SHA256\", \"NO-SUCH-SUITE\"]\n").write(to: config, atomically: true, encoding: .utf8)
        let refused = try CommandRunner.run(["serve", "--config", config.path, "--root", folder.path, "--data",
                                             folder.appendingPathComponent("data").path, "--https", "127.0.0.1:0",
                                             "--http", "off", "--tftp", "off", "--ftp", "off", "--pnp", "off",
                                             "--admin", "off"],
                                            timeout: 60)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("https.ciphers: \"NO-SUCH-SUITE\" is no TLS 1.2 suite"), "\(refused.stderr)")
    }

    @Test("TLS as testssl.sh sees it: TLS 1.2 and 1.3 offered, nothing older; no NULL, export, low, 3DES or CBC suites; every finding OK or informational")
    func testssl() throws {
        let server = try ServerProcess(files: ["sip.cfg": sipFile])
        let report = server.directory.appendingPathComponent("testssl.json")
        let run = try Client.run("testssl", ["--quiet", "--color", "0", "--protocols", "--std", "--jsonfile-pretty",
                                             report.path, "127.0.0.1:\(server.httpsPort)"], timeout: 240)
        #expect(run.status == 0, "\(run.stdout.suffix(2000))")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any]
        let scan = try #require((json?["scanResult"] as? [[String: Any]])?.first)
        var findings: [String: (severity: String, finding: String)] = [:]
        for section in ["protocols", "ciphers"] {
            for entry in scan[section] as? [[String: Any]] ?? [] {
                if let id = entry["id"] as? String, let severity = entry["severity"] as? String {
                    findings[id] = (severity, entry["finding"] as? String ?? "")
                }
            }
        }
        #expect(findings["TLS1_2"]?.finding.hasPrefix("offered") == true && findings["TLS1_3"]?.finding.hasPrefix("offered") == true,
                "\(findings)")
        for id in ["SSLv2", "SSLv3", "TLS1", "TLS1_1", "cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT",
                   "cipherlist_LOW", "cipherlist_3DES_IDEA", "cipherlist_AVERAGE"] {
            #expect(findings[id]?.finding == "not offered", "\(id): \(String(describing: findings[id]))")
        }
        let flagged = findings.filter { !["OK", "INFO"].contains($0.value.severity) }
        #expect(flagged.isEmpty, "\(flagged)")
    }

    @Test("S4: PUT of an allowed name stores it (201, then 204) and a later GET returns it; others 403, over the limit 413")
    func uploads() throws {
        let server = try ServerProcess(configuration: "[uploads]\nallow = [\"*-local.cfg\", \"*-contact.xml\"]\nmax_bytes = 2048\n")
        let local = server.directory.appendingPathComponent("local.cfg")
        try "#!version:1.0.0.1\naccount.1.label = mine\n".write(to: local, atomically: true, encoding: .utf8)
        #expect(try Client.curl(["-T", local.path, "\(server.http)/00156574b150-local.cfg"]).status == 201)
        try "#!version:1.0.0.1\naccount.1.label = mine too\n".write(to: local, atomically: true, encoding: .utf8)
        #expect(try Client.curl(["-T", local.path, "\(server.http)/00156574b150-local.cfg"]).status == 204)
        let back = try Client.curl(["\(server.http)/00156574b150-local.cfg"])
        #expect(back.body == "#!version:1.0.0.1\naccount.1.label = mine too\n")
        #expect(try Client.curl(["-T", local.path, "\(server.http)/y000000000000.boot"]).status == 403)
        #expect(try Client.curl(["-T", local.path, "\(server.http)/sip.cfg"]).status == 403)
        let big = server.directory.appendingPathComponent("big")
        try Data(repeating: 0x41, count: 4096).write(to: big)
        #expect(try Client.curl(["-T", big.path, "\(server.http)/00156574b150-local.cfg"]).status == 413)
        #expect(try Client.curl(["-T", local.path, "\(server.https)/001565000001-contact.xml"]).status == 201)
        // The previous version is kept.
        let versions = server.data.appendingPathComponent("uploads/.versions/00156574b150-local.cfg")
        #expect(try FileManager.default.contentsOfDirectory(atPath: versions.path).count == 1)
    }

    @Test("S4: a PUT with Expect: 100-continue is told to go on before it sends the body, and a refused one is refused at once (RFC 9110 §10.1.1), over HTTP and TLS")
    func expectContinue() throws {
        let server = try ServerProcess()
        let head = { (name: String) in
            "PUT /\(name) HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        }
        let connection = RawConnection(port: server.httpPort)
        connection.send(head("00156574b150-local.cfg"))
        // Nothing of the body is sent until the server says so.
        #expect(String(decoding: connection.read(atLeast: 25), as: UTF8.self) == "HTTP/1.1 100 Continue\r\n\r\n")
        connection.send("hello")
        #expect(String(decoding: connection.read(atLeast: 12), as: UTF8.self).hasPrefix("HTTP/1.1 201"))
        let refused = RawConnection(port: server.httpPort)
        refused.send(head("evil.txt"))
        let answer = String(decoding: refused.readAll(), as: UTF8.self)
        #expect(answer.hasPrefix("HTTP/1.1 403") && !answer.contains("100 Continue"), "\(answer)")
        // curl sends Expect for a body over 1 KB, and with the 100 it sends the body at once, over HTTPS too.
        let file = server.directory.appendingPathComponent("large.cfg")
        try ("#!version:1.0.0.1\n" + String(repeating: "# padding\n", count: 300)).write(to: file, atomically: true, encoding: .utf8)
        for base in [server.http, server.https] {
            let put = try Client.run("curl", ["-s", "-k", "-v", "-o", "/dev/null", "-w", "%{http_code}", "-T", file.path,
                                              "\(base)/00156574b151-local.cfg"], timeout: 30)
            #expect(put.stderr.contains("Expect: 100-continue") && put.stderr.contains("< HTTP/1.1 100 Continue"),
                    "\(put.stderr.suffix(800))")
            #expect(["201", "204"].contains(put.stdout))
        }
        #expect(try Client.curl(["\(server.http)/00156574b150-local.cfg"]).body == "hello")
    }

    @Test("S4: concurrent PUTs of one file leave one complete version, never a mix")
    func concurrentUploads() async throws {
        let server = try ServerProcess(configuration: "[uploads]\nmax_bytes = 1048576\n")
        let bodies = (0..<12).map { index in String(repeating: "\(index % 10)", count: 200_000) }
        let target = "\(server.http)/00156574b150-local.cfg"
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, body) in bodies.enumerated() {
                let file = server.directory.appendingPathComponent("body\(index)")
                try body.write(to: file, atomically: true, encoding: .utf8)
                group.addTask {
                    _ = try Client.curl(["-T", file.path, target])
                }
            }
            try await group.waitForAll()
        }
        let result = try Client.curl(["\(server.http)/00156574b150-local.cfg"])
        #expect(bodies.contains(result.body))
    }

    @Test("S4: SIGKILL in the middle of an upload leaves the previous version intact")
    func killDuringUpload() throws {
        let server = try ServerProcess(configuration: "[uploads]\nmax_bytes = 4194304\n")
        let first = server.directory.appendingPathComponent("first")
        try "#!version:1.0.0.1\naccount.1.label = before\n".write(to: first, atomically: true, encoding: .utf8)
        #expect(try Client.curl(["-T", first.path, "\(server.http)/00156574b150-local.cfg"]).status == 201)
        let big = server.directory.appendingPathComponent("big")
        try Data(repeating: 0x42, count: 3_000_000).write(to: big)
        let slow = Process()
        slow.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        slow.arguments = ["-s", "-o", "/dev/null", "--limit-rate", "200k", "-T", big.path,
                          "\(server.http)/00156574b150-local.cfg"]
        try Children.start(slow)
        // Killed once the server holds the upload's connection (3 MB at 200 kB/s takes 15 s to send).
        #expect(eventually { TCPTable.established(localPort: server.httpPort) > 0 })
        #expect(slow.isRunning)
        server.kill9()
        #expect(slow.finish(within: 30))
        let stored = server.data.appendingPathComponent("uploads/00156574b150-local.cfg")
        #expect(try String(contentsOf: stored, encoding: .utf8) == "#!version:1.0.0.1\naccount.1.label = before\n")
    }

    @Test("S4: an answered upload survives a power loss through the journal: its file torn and its kept version lost, a restart puts both back; a clean stop leaves no journal")
    func journalAfterPowerLoss() throws {
        let configuration = "[uploads]\ncheckpoint_seconds = 3600\n"
        let (one, two, three) = ("#!version:1.0.0.1\naccount.1.label = one\n", "#!version:1.0.0.1\naccount.1.label = two\n",
                                 "#!version:1.0.0.1\naccount.1.label = three\n")
        let first = try ServerProcess(configuration: configuration)
        let local = first.directory.appendingPathComponent("local.cfg")
        let url = "\(first.http)/00156574b150-local.cfg"
        try one.write(to: local, atomically: true, encoding: .utf8)
        #expect(try Client.curl(["-T", local.path, url]).status == 201)
        try two.write(to: local, atomically: true, encoding: .utf8)
        #expect(try Client.curl(["-T", local.path, url]).status == 204)
        first.kill9()
        let uploads = first.data.appendingPathComponent("uploads")
        let journal = uploads.appendingPathComponent(".journal")
        #expect(try !FileManager.default.contentsOfDirectory(atPath: journal.path).isEmpty, "no journal to recover from")
        // What a power loss can leave when the system had not yet written the uploads back: the file empty, and
        // the hard link that kept the version before it never made.
        try Data().write(to: uploads.appendingPathComponent("00156574b150-local.cfg"))
        try FileManager.default.removeItem(at: uploads.appendingPathComponent(".versions"))

        let second = try ServerProcess(configuration: configuration) { directory in
            try FileManager.default.copyItem(at: first.data, to: directory.appendingPathComponent("data"))
        }
        let served = try Client.curl(["\(second.http)/00156574b150-local.cfg"])
        #expect(served.status == 200 && served.body == two, "\(served)")
        let versions = second.data.appendingPathComponent("uploads/.versions/00156574b150-local.cfg")
        let kept = try FileManager.default.contentsOfDirectory(atPath: versions.path)
        #expect(try kept.map { try String(contentsOf: versions.appendingPathComponent($0), encoding: .utf8) } == [one])
        let secondJournal = second.data.appendingPathComponent("uploads/.journal")
        #expect(try FileManager.default.contentsOfDirectory(atPath: secondJournal.path).isEmpty)
        let log = try String(contentsOf: second.output, encoding: .utf8)
        #expect(log.contains("uploads checked against the upload journal") && log.contains("files_put_back=1")
                && log.contains("versions_put_back=1"), "\(log)")
        // A clean stop folds the journal into the files: nothing left to check at the next start.
        try three.write(to: local, atomically: true, encoding: .utf8)
        #expect(try Client.curl(["-T", local.path, "\(second.http)/00156574b150-local.cfg"]).status == 204)
        #expect(try !FileManager.default.contentsOfDirectory(atPath: secondJournal.path).isEmpty)
        #expect(second.stop() == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: secondJournal.path).isEmpty)
    }

    @Test("S5: a protected directory needs its credentials (Basic and Digest MD5/SHA-256); wrong ones get 401")
    func directoryCredentials() throws {
        let server = try ServerProcess(
            files: ["T23G_1/y000000000000.boot": bootFile, "T23G_1/sip.cfg": sipFile, "open.cfg": sipFile],
            configuration: "[[directory]]\npath = \"T23G_1\"\nusername = \"user1\"\npassword = \"secret1\"\n")
        let url = "\(server.http)/T23G_1/sip.cfg"
        let none = try Client.curl(["-D", "-", url])
        #expect(none.status == 401)
        #expect(none.body.contains("Digest realm=\"T23G_1\""))
        #expect(none.body.contains("algorithm=SHA-256"))
        #expect(try Client.curl(["-u", "user1:secret1", url]).body == sipFile)
        #expect(try Client.curl(["--digest", "-u", "user1:secret1", url]).body == sipFile)
        #expect(try Client.curl(["-u", "user1:wrong", url]).status == 401)
        #expect(try Client.curl(["--digest", "-u", "user1:wrong", url]).status == 401)
        #expect(try Client.curl(["\(server.http)/open.cfg"]).status == 200)
        // TFTP cannot carry credentials: the directory is refused, not served.
        let tftp = try Client.run("curl", ["-s", "\(server.tftp)/T23G_1/sip.cfg"])
        #expect(tftp.status != 0)
        #expect(!tftp.stdout.contains("account"))
    }

    @Test("S5: repeated failures from one address are slowed down")
    func slowedDown() throws {
        let server = try ServerProcess(
            files: ["T23G_1/sip.cfg": sipFile],
            configuration: "[[directory]]\npath = \"T23G_1\"\nusername = \"user1\"\npassword = \"secret1\"\n")
        // The server counts each answer it holds back: none for the first three failures, one for each after.
        var held: [Int] = []
        for _ in 0..<7 {
            #expect(try Client.curl(["-u", "user1:wrong", "\(server.http)/T23G_1/sip.cfg"]).status == 401)
            held.append(try server.event("auth-delayed"))
        }
        #expect(held == [0, 0, 0, 1, 2, 3, 4])
    }

    @Test("GET /metrics: requests and bytes by protocol and result, no MAC or path in labels")
    func metrics() throws {
        let server = try ServerProcess(files: ["sip.cfg": sipFile])
        _ = try Client.curl(["\(server.http)/sip.cfg"])
        _ = try Client.curl(["\(server.http)/00156574b150.cfg"])
        let metrics = try Client.curl(["\(server.http)/metrics"]).body
        #expect(metrics.contains("autoprov_requests_total{protocol=\"http\",result=\"ok\"} 1"))
        #expect(metrics.contains("autoprov_requests_total{protocol=\"http\",result=\"not-found\"} 1"))
        #expect(metrics.contains("autoprov_transfers_in_flight{protocol=\"tftp\"} 0"))
        #expect(!metrics.contains("00156574b150"))
        #expect(!metrics.contains("sip.cfg"))
    }
}

@Suite("Mutual TLS", .blocking, .serialized, .timeLimit(.minutes(5)))
struct MutualTLSTests {
    @Test("with client_ca set, a client without a certificate it signed is refused; the device's certificate is recorded")
    func clientCertificates() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-mtls-\(UUID())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let ca = try TestCA(in: work)
        try ca.issue("phone", subject: "/CN=00156574b150")
        try ca.selfSigned("other", subject: "/CN=stranger")
        let server = try ServerProcess(files: ["sip.cfg": sipFile], configuration: "[https]\nclient_ca = \"\(ca.pem.path)\"\n")
        let url = "\(server.https)/sip.cfg"
        #expect(try Client.run("curl", ["-s", "-k", url]).status != 0)
        #expect(try Client.run("curl", ["-s", "-k", "--cert", ca.certificate("other").path, "--key", ca.key("other").path,
                                        url]).status != 0)
        let accepted = try Client.curl(["--cert", ca.certificate("phone").path, "--key", ca.key("phone").path, url])
        #expect(accepted.status == 200)
        #expect(accepted.body == sipFile)
        #expect(server.stop() == 0)
        let log = try CommandRunner.run(["log", "--data", server.data.path])
        #expect(log.stdout.contains("CN=00156574b150"), "\(log.stdout)")
    }
}

@Suite("HTTP robustness (S6)", .blocking, .serialized, .timeLimit(.minutes(5)))
struct HTTPRobustnessTests {
    /// Sends raw bytes over TCP and returns what comes back before the server closes (or 3 s pass).
    static func exchange(port: Int, _ bytes: [UInt8]) -> String {
        let connection = RawConnection(port: port, timeoutSeconds: 3)
        connection.send(bytes)
        return String(decoding: connection.readAll(), as: UTF8.self)
    }

    @Test("garbage gets 400 and a closed connection; pipelined requests are answered in order; others keep being served")
    func garbageAndPipelining() throws {
        let server = try ServerProcess(files: ["a.cfg": "#!version:1.0.0.1\na = 1\n", "b.cfg": "#!version:1.0.0.1\nb = 2\n"])
        for garbage in ["\u{0}\u{1}\u{2}\r\n\r\n", "GET /a.cfg HTTP/9.9.9\r\n\r\n", "GARBAGE\r\n\r\n",
                        "GET /a.cfg HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"] {
            let reply = Self.exchange(port: server.httpPort, Array(garbage.utf8))
            #expect(reply.hasPrefix("HTTP/1.1 400"), "\(garbage.debugDescription): \(reply.prefix(40))")
        }
        let pipelined = "GET /a.cfg HTTP/1.1\r\nHost: x\r\n\r\nGET /missing.cfg HTTP/1.1\r\nHost: x\r\n\r\n"
            + "GET /b.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        let replies = Self.exchange(port: server.httpPort, Array(pipelined.utf8))
        let statuses = replies.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
        #expect(statuses == ["200", "404", "200"], "\(replies)")
        #expect(replies.range(of: "a = 1")!.lowerBound < replies.range(of: "b = 2")!.lowerBound)
        #expect(try Client.curl(["\(server.http)/a.cfg"]).status == 200)
        #expect(server.stop() == 0)
    }
}

/// `openssl s_server -www` on a free port, its output kept: a TLS peer that is not autoprov.
final class OpenSSLServer {
    let process = Process()
    private(set) var port = 0
    private let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-s_server-\(UUID()).out")

    /// What it has printed so far (with `-trace`, every handshake message).
    var output: String { (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "" }

    init(certificate: URL, key: URL, arguments: [String] = []) throws {
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["s_server", "-accept", "127.0.0.1:0", "-cert", certificate.path, "-key", key.path, "-www"]
            + arguments
        process.standardOutput = try FileHandle(forWritingTo: outputFile)
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try Children.start(process)
        // "ACCEPT 127.0.0.1:PORT" once it listens.
        let listening = eventually {
            guard let range = output.range(of: "ACCEPT 127.0.0.1:") else { return false }
            port = Int(output[range.upperBound...].prefix { $0.isNumber }) ?? 0
            return port > 0
        }
        guard listening else { throw ChildTimedOut(command: process.commandLine, seconds: 10) }
    }

    /// Allowing TLS 1.1 at security level 0: shows that a test's TLS 1.1 client can connect at all.
    static func tls11(certificate: URL, key: URL) throws -> OpenSSLServer {
        try OpenSSLServer(certificate: certificate, key: key, arguments: ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
    }

    deinit {
        process.killGroup()
        try? FileManager.default.removeItem(at: outputFile)
    }
}
