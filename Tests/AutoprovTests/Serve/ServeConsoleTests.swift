import Foundation
import Testing
import TestSupport

/// The web console on the admin listener, over real HTTP with curl keeping cookies as a browser does: accounts,
/// sessions, CSRF tokens, roles, escaping, and each page over the same calls as the API and the CLI.
@Suite("autoprov serve: the web console (login, sessions, CSRF, roles, pages)", .blocking, .timeLimit(.minutes(3)))
struct ServeConsoleTests {
    /// A server with a write account (alice) and a read account (bob), both with the password `hunter22`.
    struct Console {
        let server: ServerProcess
        let tls: Bool
        var base: String { "\(tls ? "https" : "http")://127.0.0.1:\(server.adminPort)" }

        init(files: [String: String] = [:], configuration: String = "", prepare: (String) throws -> Void = { _ in }) throws {
            tls = configuration.contains("tls = true")
            server = try ServerProcess(files: files, configuration: configuration, prepare: { directory in
                let data = directory.appendingPathComponent("data").path
                let password = directory.appendingPathComponent("password")
                try Data("hunter22\n".utf8).write(to: password)
                for (name, role) in [("alice", "write"), ("bob", "read")] {
                    let added = try CommandRunner.run(["admin", "user", "add", name, "--role", role, "--password-file",
                                                       password.path, "--data", data])
                    guard added.status == 0 else { throw ConsoleTestFailure("admin user add: \(added.stderr)") }
                }
                try prepare(data)
            })
        }

        /// A browser of its own: a cookie jar, and the CSRF token of the last page it was shown.
        func browser() throws -> Browser { try Browser(base: base) }
    }

    /// curl with a cookie jar, following no redirect (each is checked).
    final class Browser {
        let base: String
        let jar: URL
        var csrf = ""

        init(base: String) throws {
            self.base = base
            jar = FileManager.default.temporaryDirectory.appendingPathComponent("console-\(UUID().uuidString).cookies")
        }

        deinit { try? FileManager.default.removeItem(at: jar) }

        struct Page {
            let status: Int
            let headers: String
            let body: String
            var location: String? {
                headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("location:") }
                    .map { String($0.dropFirst(9)).trimmingCharacters(in: .whitespaces) }
            }
        }

        func get(_ path: String) throws -> Page { try request(["-G", base + path]) }

        /// Posts a form; `csrf` nil sends the token of the last page, "" none.
        func post(_ path: String, _ fields: [(String, String)], csrf: String? = nil) throws -> Page {
            let token = csrf ?? self.csrf
            let all = (token.isEmpty ? [] : [("csrf", token)]) + fields
            return try request(all.flatMap { ["--data-urlencode", "\($0.0)=\($0.1)"] } + [base + path])
        }

        func login(_ name: String, _ password: String = "hunter22") throws -> Page {
            _ = try get("/login")
            return try post("/login", [("name", name), ("password", password)])
        }

        private func request(_ arguments: [String]) throws -> Page {
            // The server's own self-signed certificate, over TLS: -k, as a browser's "accept this certificate".
            let tls = base.hasPrefix("https:") ? ["-k"] : []
            let result = try Client.run("curl", ["-s", "-i", "-m", "20", "-b", jar.path, "-c", jar.path] + tls + arguments)
            let text = result.stdout
            guard let split = text.range(of: "\r\n\r\n") else { throw ConsoleTestFailure("no answer: \(text) \(result.stderr)") }
            let headers = String(text[..<split.lowerBound])
            let body = String(text[split.upperBound...])
            let status = Int(headers.split(separator: " ").dropFirst().first ?? "") ?? 0
            if let match = body.firstMatch(of: #/name="csrf" value="([^"]+)"/#) { csrf = String(match.1) }
            return Page(status: status, headers: headers, body: body)
        }
    }

    @Test("login: pages send a stranger to the login form; a wrong password is 401; the session cookie is HttpOnly and SameSite=Strict; logout ends it")
    func login() throws {
        let console = try Console()
        let browser = try console.browser()
        let stranger = try browser.get("/devices")
        #expect(stranger.status == 303 && stranger.location == "/login", "\(stranger.headers)")
        let form = try browser.get("/login")
        #expect(form.status == 200 && form.body.contains(#"type="password""#))
        #expect(form.headers.contains("Content-Security-Policy: default-src 'self'"), "\(form.headers)")

        let wrong = try browser.post("/login", [("name", "alice"), ("password", "guess")])
        #expect(wrong.status == 401 && wrong.body.contains("Wrong name or password."), "\(wrong.status)")
        #expect(try browser.post("/login", [("name", "nobody"), ("password", "hunter22")]).status == 401)
        // A login form posted without the token its page set (another site's form) is refused.
        #expect(try browser.post("/login", [("name", "alice"), ("password", "hunter22")], csrf: "").status == 403)

        // Guessing is slowed down per address as phones' wrong passwords are (S5): the eighth wrong password in a row
        // waits 4 s, past this client's 2 s; the right one still gets in and resets the count.
        for attempt in 3...7 {
            #expect(try browser.post("/login", [("name", "alice"), ("password", "guess\(attempt)")]).status == 401)
        }
        _ = try browser.get("/login")
        let held = try Client.run("curl", ["-s", "-o", "/dev/null", "-m", "2", "-b", browser.jar.path, "--data-urlencode",
                                           "csrf=\(browser.csrf)", "--data-urlencode", "name=alice", "--data-urlencode",
                                           "password=guess8", console.base + "/login"])
        #expect(held.status == 28, "curl's own time-out: the eighth guess is held back (\(held.status))")
        let signedIn = try browser.login("alice")
        #expect(signedIn.status == 303 && signedIn.location == "/", "\(signedIn.headers)")
        let cookie = try #require(signedIn.headers.split(separator: "\r\n").first { $0.hasPrefix("Set-Cookie: autoprov_session=") })
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"), "\(cookie)")
        #expect(!cookie.contains("Secure"), "no TLS on this listener: a Secure cookie would never be sent back")
        let fleet = try browser.get("/")
        #expect(fleet.status == 200 && fleet.body.contains("<h1>Fleet</h1>") && fleet.body.contains("alice · write"))

        // Logging out needs the session's token too; then the old cookie opens nothing.
        #expect(try browser.post("/logout", [], csrf: "forged").status == 403)
        #expect(try browser.get("/devices").status == 200)
        let out = try browser.post("/logout", [])
        #expect(out.status == 303 && out.location == "/login")
        #expect(try browser.get("/devices").location == "/login")
        #expect(console.server.stop() == 0)
    }

    @Test("CSRF and roles: a post without the session's token changes nothing (403); a read account sees no edit controls and gets 403 if it posts anyway")
    func csrfAndRoles() throws {
        let console = try Console { data in
            _ = try CommandRunner.run(["device", "add", "00156574b150", "--model", "T46S", "--label", "Desk", "--data", data])
        }
        let alice = try console.browser()
        _ = try alice.login("alice")
        _ = try alice.get("/devices/00156574b150")
        #expect(alice.csrf.count >= 40)
        let forged = try alice.post("/devices/00156574b150", [("label", "Forged"), ("groups", ""), ("state", "active")], csrf: "")
        #expect(forged.status == 403 && forged.body.contains("CSRF"), "\(forged.status)")
        // The token with its first character changed (a token starting with "x" made "x" + the rest the token itself).
        let other = alice.csrf.first == "x" ? "y" : "x"
        let wrong = try alice.post("/devices/00156574b150/delete", [], csrf: other + alice.csrf.dropFirst())
        #expect(wrong.status == 403)
        let shown = try CommandRunner.run(["device", "show", "00156574b150", "--data", console.server.data.path]).stdout
        #expect(shown.contains("Desk") && !shown.contains("Forged"), "\(shown)")

        let bob = try console.browser()
        _ = try bob.login("bob")
        let page = try bob.get("/devices/00156574b150")
        #expect(page.status == 200 && page.body.contains("bob · read"))
        #expect(!page.body.contains("Send check-sync") && !page.body.contains(#"action="/devices/00156574b150""#)
                && !page.body.contains("Remove from the inventory"), "no edit controls for a read account")
        #expect(!(try bob.get("/devices")).body.contains("Add a device"))
        let posted = try bob.post("/devices/00156574b150/delete", [])
        #expect(posted.status == 403 && posted.body.contains("may only read"), "\(posted.status)")
        #expect(try CommandRunner.run(["device", "show", "00156574b150", "--data", console.server.data.path]).status == 0)
        #expect(console.server.stop() == 0)
    }

    @Test("escaping: a label, a variable and a template line someone typed as HTML show as text")
    func escaping() throws {
        let console = try Console { data in
            _ = try CommandRunner.run(["device", "add", "00156574b150", "--model", "T46S", "--label", "<script>alert(1)</script>",
                                       "--set", "note=\"><img src=x onerror=alert(2)>", "--data", data])
        }
        let browser = try console.browser()
        _ = try browser.login("alice")
        for path in ["/devices", "/devices/00156574b150", "/devices?q=%3Cscript%3E"] {
            let page = try browser.get(path)
            #expect(page.status == 200)
            #expect(!page.body.contains("<script>alert(1)") && !page.body.contains("<img src=x"), "\(path)")
            #expect(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "\(path)")
        }
        #expect(try browser.get("/devices/00156574b150").body.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"))
        #expect(console.server.stop() == 0)
    }

    @Test("devices: filters, pages of 100 by a cursor, adding a device (refusals shown on the page), editing it with a masked secret kept")
    func devices() throws {
        let console = try Console { data in
            var csv = "mac,model,label,groups,sip_password\n"
            for index in 0..<150 {
                csv += String(format: "0015657400%02x,%@,Desk %d,%@,pw%d\n", index, index % 3 == 0 ? "T54W" : "T46S", index,
                              index % 2 == 0 ? "sales" : "", index)
            }
            let file = URL(fileURLWithPath: data).deletingLastPathComponent().appendingPathComponent("devices.csv")
            try Data(csv.utf8).write(to: file)
            let imported = try CommandRunner.run(["device", "import", file.path, "--data", data])
            guard imported.status == 0 else { throw ConsoleTestFailure("import: \(imported.stderr)") }
        }
        let browser = try console.browser()
        _ = try browser.login("alice")
        func macs(_ body: String) -> [String] { body.matches(of: #/<tr><td><a href="/devices/([0-9a-f]{12})">/#).map { String($0.1) } }
        let first = try browser.get("/devices")
        #expect(macs(first.body).count == 100 && macs(first.body).first == "001565740000")
        let next = try #require(first.body.firstMatch(of: #/rel="next" href="([^"]+)"/#).map { String($0.1).replacingOccurrences(of: "&amp;", with: "&") })
        let second = try browser.get(next)
        #expect(macs(second.body).count == 50 && macs(second.body).first == "001565740064" && !second.body.contains(#"rel="next""#))
        #expect(macs(try browser.get("/devices?model=T54W").body).count == 50)
        #expect(macs(try browser.get("/devices?group=sales&model=T54W").body).count == 25)
        #expect(macs(try browser.get("/devices?q=Desk+149").body) == ["001565740095"])
        #expect(macs(try browser.get("/devices?q=pw7").body).isEmpty, "secrets are not searched")
        let bad = try browser.get("/devices?model=T999")
        #expect(bad.status == 400 && bad.body.contains("not a model autoprov knows"))

        _ = try browser.get("/devices")
        let added = try browser.post("/devices", [("mac", "00:15:65:74:B1:50"), ("model", "T46S"), ("label", "Lobby"), ("groups", "sales")])
        #expect(added.status == 303 && added.location == "/devices/00156574b150?message=added", "\(added.headers)")
        let twice = try browser.post("/devices", [("mac", "00156574b150"), ("model", "T46S")])
        #expect(twice.status == 400 && twice.body.contains("already in the inventory"), "\(twice.status)")
        let unknownGroup = try browser.post("/devices", [("mac", "00156574b151"), ("model", "T46S"), ("groups", "nosuch")])
        #expect(unknownGroup.status == 400 && unknownGroup.body.contains("no group"), "\(unknownGroup.status)")

        let page = try browser.get("/devices/001565740001")
        #expect(page.body.contains("sip_password=********"), "a secret is masked in the edit form")
        let saved = try browser.post("/devices/001565740001", [("label", "Desk one"), ("groups", "sales"), ("state", "active"),
                                                               ("variables", "sip_password=********\nfloor=2")])
        #expect(saved.status == 303, "\(saved.body)")
        let shown = try CommandRunner.run(["device", "show", "001565740001", "--with-secrets", "--data", console.server.data.path]).stdout
        #expect(shown.contains("Desk one") && shown.contains("sip_password  pw1") && shown.contains(#/floor +2/#), "\(shown)")
        #expect(console.server.stop() == 0)
    }

    @Test("templates: Check shows lint diagnostics at their lines and saves nothing; a refused Save keeps the text; a good one changes the device's file and its history diff")
    func templates() throws {
        let console = try Console { data in
            _ = try CommandRunner.run(["device", "add", "00156574b150", "--model", "T46S", "--label", "Desk", "--data", data])
        }
        let browser = try console.browser()
        _ = try browser.login("alice")
        let path = "devices/00156574b150.cfg"
        #expect(try browser.get("/templates/edit?path=\(path)").status == 200)
        let bad = "#!version:1.0.0.1\naccount.1.label = {{label}}\naccount.1.user_name = {{extension}}\n"
        let checked = try browser.post("/templates/edit", [("path", path), ("action", "check"), ("text", bad)])
        #expect(checked.status == 422 && checked.body.contains(##"<a href="#line-3">line 3, column"##), "\(checked.body)")
        #expect(checked.body.contains(#"<tr id="line-3" class="flagged">"#) && checked.body.contains("unknown variable &#39;extension&#39;"))
        let refused = try browser.post("/templates/edit", [("path", path), ("action", "save"), ("text", bad)])
        #expect(refused.status == 422 && refused.body.contains("nothing was saved") && refused.body.contains("{{extension}}\n</textarea>"))
        #expect(try browser.get("/devices/00156574b150").body.contains("No template generates"))

        let good = "#!version:1.0.0.1\naccount.1.label = {{label}}\n"
        let saved = try browser.post("/templates/edit", [("path", path), ("action", "save"), ("text", good)])
        #expect(saved.status == 303 && saved.location?.contains("saved=1") == true, "\(saved.headers)")
        let file = try browser.get("/devices/00156574b150/files/00156574b150.cfg")
        #expect(file.body.contains("account.1.label = Desk"), "\(file.body)")
        _ = try browser.post("/templates/edit", [("path", path), ("action", "save"), ("text", good + "account.1.enable = 1\n")])
        let history = try browser.get("/templates/edit?path=\(path)")
        #expect(history.body.contains("version 2") && history.body.contains(#"<span class="added">+ account.1.enable = 1</span>"#))
        #expect(history.body.contains(#"<span class="same">  account.1.label = {{label}}</span>"#))
        let device = try browser.get("/devices/00156574b150")
        #expect(device.body.contains("<code>account.1.label</code></td><td>Desk</td><td>00156574b150.cfg:2</td><td>devices/00156574b150.cfg:2, label from built-in"),
                "the effective setting with its template line and variable")
        #expect(console.server.stop() == 0)
    }

    @Test("pending: a phone the inventory does not know waits; approve makes it active, reject disables it")
    func pending() throws {
        let console = try Console { data in
            for mac in ["00156574b150", "00156574b151"] {
                _ = try CommandRunner.run(["device", "add", mac, "--model", "T46S", "--state", "pending", "--data", data])
            }
        }
        let browser = try console.browser()
        _ = try browser.login("alice")
        let page = try browser.get("/pending")
        #expect(page.body.contains("00156574b150") && page.body.contains("00156574b151"))
        #expect(try browser.post("/devices/00156574b150/approve", [("back", "/pending")]).location == "/pending?done=00156574b150")
        _ = try browser.get("/pending")
        #expect(try browser.post("/devices/00156574b151/reject", [("back", "/pending")]).status == 303)
        let listed = try CommandRunner.run(["device", "list", "--format", "csv", "--data", console.server.data.path]).stdout
        #expect(listed.contains("00156574b150,T46S,,,active") && listed.contains("00156574b151,T46S,,,disabled"), "\(listed)")
        #expect(try browser.get("/pending").body.contains("No phone is waiting."))
        #expect(console.server.stop() == 0)
    }

    @Test("fleet and log: counts by state and model, phones seen, requests per minute with errors, the log filtered by MAC")
    func fleetAndLog() throws {
        let console = try Console(files: ["00156574b150.cfg": "#!version:1.0.0.1\n"]) { data in
            _ = try CommandRunner.run(["device", "add", "00156574b150", "--model", "T46S", "--data", data])
        }
        _ = try Client.curl(["-A", "Yealink SIP-T46S 66.86.0.15 00:15:65:74:b1:50", "\(console.server.http)/00156574b150.cfg"])
        _ = try Client.curl(["-A", "Yealink SIP-T46S 66.86.0.15 00:15:65:74:b1:50", "\(console.server.http)/missing.cfg"])
        let browser = try console.browser()
        _ = try browser.login("bob")
        var fleet = ""
        #expect(eventually(within: 20) {
            fleet = (try? browser.get("/").body) ?? ""
            return fleet.contains("<td>66.86.0.15</td><td class=\"number\">1</td>")
        }, "\(fleet)")
        #expect(fleet.contains(#"<b>1</b> seen in the last hour"#))
        #expect(fleet.contains(#"<tr><td><a href="/devices?model=T46S">T46S</a></td><td class="number">1</td>"#))
        #expect(fleet.contains(#"<tr><td>this minute</td><td class="number">2</td><td class="number bad">1</td></tr>"#)
                || fleet.contains(#"<tr><td>1 min ago</td><td class="number">2</td><td class="number bad">1</td></tr>"#), "\(fleet)")
        let log = try browser.get("/log?mac=00:15:65:74:b1:50&protocol=http")
        #expect(log.body.contains("<code>/00156574b150.cfg</code>") && log.body.contains("<code>/missing.cfg</code>"))
        #expect(try browser.get("/log?protocol=gopher").status == 400)
        #expect(try browser.get("/log?since=yesterday").body.contains("RFC 3339"))
        #expect(console.server.stop() == 0)
    }

    @Test("check-sync: the device page's button notifies the phone (sipp) and its job page counts the answer")
    func checkSync() throws {
        let phone = try Sipp.Phone("checksync-registry-phone.xml")
        let console = try Console(configuration: "[inventory]\nnotify_port = \(phone.port)\n") { data in
            _ = try CommandRunner.run(["device", "add", "00156574b150", "--model", "T46S", "--data", data])
        }
        _ = try Client.curl(["-A", "Yealink SIP-T46S 66.86.0.15 00:15:65:74:b1:50", "\(console.server.http)/00156574b150.cfg"])
        #expect(eventually(within: 20) {
            (try? CommandRunner.run(["devices", "--data", console.server.data.path]).stdout.contains("00156574b150")) == true
        })
        let browser = try console.browser()
        _ = try browser.login("alice")
        #expect(try browser.get("/devices/00156574b150").body.contains("Send check-sync"))
        let sent = try browser.post("/devices/00156574b150/check-sync", [])
        let job = try #require(sent.location, "\(sent.headers)")
        #expect(job.hasPrefix("/jobs/") && job.hasSuffix("?device=00156574b150"))
        var page = ""
        #expect(eventually(within: 40) {
            page = (try? browser.get(job).body) ?? ""
            return page.contains("Done.")
        }, "\(page)")
        #expect(page.contains(#"<dt>Answered</dt><dd id="answered">1</dd>"#), "\(page)")
        #expect(phone.finish().status == 0)
        #expect(console.server.stop() == 0)
    }

    @Test("in headless Chromium: log in, add a device, see a lint diagnostic at its line, save a template and see the file change, approve a pending phone, check-sync it (sipp), log out; screenshots saved")
    func inABrowser() throws {
        let phone = try Sipp.Phone("checksync-registry-phone.xml")
        let console = try Console(configuration: "[inventory]\nnotify_port = \(phone.port)\n")
        // A phone the inventory does not know asks for its file: it waits as pending, and the registry knows
        // where to notify it.
        _ = try Client.curl(["-A", "Yealink SIP-T46S 66.86.0.15 00:15:65:74:b1:50", "\(console.server.http)/00156574b150.cfg"])
        #expect(eventually(within: 20) {
            (try? CommandRunner.run(["devices", "--data", console.server.data.path]).stdout.contains("00156574b150")) == true
        })
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let output = package.appendingPathComponent(".build/test-output/console-in-a-browser")
        try? FileManager.default.removeItem(at: output)
        let walk = try Client.run("python3", [package.appendingPathComponent("Tests/Browser/console_walkthrough.py").path,
                                              console.base, output.path, "alice", "hunter22", "00:15:65:74:B1:52",
                                              "00156574b150"], timeout: 150)
        #expect(walk.status == 0, "\(walk.stdout)\(walk.stderr)")
        let shots = (try? FileManager.default.contentsOfDirectory(atPath: output.path)) ?? []
        #expect(shots.filter { $0.hasSuffix(".png") }.count == 11, "\(shots)")
        #expect(phone.finish().status == 0)
        #expect(console.server.stop() == 0)
    }

    @Test("over TLS ([admin] tls = true): the console and the API answer HTTPS with the server's certificate, plain HTTP gets nothing, and the session cookie is Secure")
    func overTLS() throws {
        let console = try Console(configuration: "[admin]\ntls = true\n")
        let browser = try console.browser()
        let signedIn = try browser.login("alice")
        #expect(signedIn.status == 303, "\(signedIn.headers)")
        let cookie = try #require(signedIn.headers.split(separator: "\r\n").first { $0.hasPrefix("Set-Cookie: autoprov_session=") })
        #expect(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "\(cookie)")
        #expect(try browser.get("/devices").status == 200)
        let api = try Client.run("curl", ["-s", "-k", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10",
                                          console.base + "/api/v1/openapi.json"])
        #expect(api.stdout == "200")
        // The certificate is the HTTPS listener's: the same one a phone sees.
        let served = try Client.run("sh", ["-c", "openssl s_client -connect 127.0.0.1:\(console.server.adminPort) </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"])
        let https = try Client.run("sh", ["-c", "openssl s_client -connect 127.0.0.1:\(console.server.httpsPort) </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"])
        #expect(served.stdout.contains("Fingerprint") && served.stdout == https.stdout, "\(served.stdout) \(https.stdout)")
        let plain = try Client.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10",
                                            "http://127.0.0.1:\(console.server.adminPort)/login"])
        #expect(plain.stdout != "200", "plain HTTP on the TLS listener: \(plain.stdout)")
        #expect(console.server.stop() == 0)
    }

    @Test("device page: the phone's uploaded local-file versions, each with what it changed, and the uploaded file applied last in the effective configuration (S4, R5.2)")
    func uploads() throws {
        let console = try Console(files: ["00156574b150.cfg": "#!version:1.0.0.1\nstatic.auto_provision.custom.protect = 1\nlang.gui = French\n"],
                                  configuration: "[uploads]\nallow = [\"*-local.cfg\"]\n") { data in
            _ = try CommandRunner.run(["device", "add", "00156574b150", "--model", "T46S", "--data", data])
        }
        let local = console.server.directory.appendingPathComponent("local.cfg")
        let url = "\(console.server.http)/00156574b150-local.cfg"
        try "#!version:1.0.0.1\nlang.gui = English\nphone_setting.backlight_time = 60\n".write(to: local, atomically: true, encoding: .utf8)
        #expect(try Client.curl(["-T", local.path, url]).status == 201)
        try "#!version:1.0.0.1\nlang.gui = German\nfeatures.dnd.enable = 1\n".write(to: local, atomically: true, encoding: .utf8)
        #expect(try Client.curl(["-T", local.path, url]).status == 204)
        let browser = try console.browser()
        _ = try browser.login("bob")
        let page = try browser.get("/devices/00156574b150").body
        let versions = page.components(separatedBy: "<summary>Version ").dropFirst().map { String($0.prefix(while: { $0 != " " })) }
        #expect(versions.first == "current" && versions.count == 2, "newest first: \(versions)")
        #expect(page.contains(#"<tr class="changed"><td><code>lang.gui</code></td><td>English</td><td>German</td></tr>"#), "\(page)")
        #expect(page.contains(#"<tr class="added"><td><code>features.dnd.enable</code></td><td></td><td>1</td></tr>"#))
        #expect(page.contains(#"<tr class="removed"><td><code>phone_setting.backlight_time</code></td><td>60</td><td></td></tr>"#))
        #expect(page.contains("<td><code>lang.gui</code></td><td>German</td><td>00156574b150-local.cfg:2</td>"),
                "the uploaded local file is applied last and wins (R5.2)")
        #expect(console.server.stop() == 0)
    }
}

struct ConsoleTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
