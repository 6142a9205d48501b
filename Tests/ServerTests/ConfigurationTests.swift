import DHCP
import Foundation
import Testing
@testable import ProvisioningServer

@Suite("Configuration file and credentials", .timeLimit(.minutes(2)))
struct ConfigurationTests {
    @Test("S6: exempt addresses and networks, IPv4 and IPv6, by prefix")
    func addressRanges() throws {
        let network = try AddressRange("10.1.0.0/16")
        #expect(network.contains("10.1.200.3") && !network.contains("10.2.0.1") && !network.contains("::1"))
        let odd = try AddressRange("192.0.2.128/25")
        #expect(odd.contains("192.0.2.200") && !odd.contains("192.0.2.127"))
        #expect(try AddressRange("192.0.2.7").contains("192.0.2.7") && !(try AddressRange("192.0.2.7").contains("192.0.2.8")))
        let v6 = try AddressRange("2001:db8::/32")
        #expect(v6.contains("2001:db8:1::5") && !v6.contains("2001:db9::1") && !v6.contains("10.0.0.1"))
        #expect(try AddressRange("0.0.0.0/0").contains("203.0.113.9"))
    }

    @Test("S5: failures from one address: three answered at once, then held 250 ms doubling to 8 s; forgotten after five quiet minutes")
    func failureSchedule() {
        let checker = CredentialChecker(directories: [])
        let start = ContinuousClock.now
        let delays = (0..<11).map { checker.failed("192.0.2.7", now: start + .seconds($0)) }
        #expect(delays == [.zero, .zero, .zero, .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2),
                           .seconds(4), .seconds(8), .seconds(8), .seconds(8)])
        // Another address is not slowed down by this one's failures.
        #expect(checker.failed("192.0.2.8", now: start + .seconds(11)) == .zero)
        // After five quiet minutes the count starts again; a success forgets it at once.
        #expect(checker.failed("192.0.2.7", now: start + .seconds(10 + 301)) == .zero)
        for second in 0..<4 { _ = checker.failed("192.0.2.9", now: start + .seconds(second)) }
        checker.forgetFailures("192.0.2.9")
        #expect(checker.failed("192.0.2.9", now: start + .seconds(5)) == .zero)
    }

    @Test("the documented example file parses to the defaults")
    func example() throws {
        let table = try TOML.parse(ExampleRoot.configurationFile)
        let configuration = try ServerConfiguration(table: table)
        #expect(configuration == ServerConfiguration())
    }

    @Test("every key of the issue's example is read")
    func keys() throws {
        let text = """
            root = "provisioning"
            data = "autoprov-data"
            [tftp]
            listen = "off"
            [http]
            listen = "127.0.0.1:8080"
            [https]
            listen = "[::1]:8443"
            certificate = "cert.pem"   # PEM
            private_key = "key.pem"
            client_ca = ""
            [uploads]
            allow = ["*-local.cfg", "*-contact.xml", 'x.cfg']
            max_bytes = 1_048_576
            [[directory]]
            path = "T23G_1/"
            username = "user1"
            password = "secret1"
            [[directory]]
            path = "T23G_2"
            username = "user2"
            password = "p#ss \\"quoted\\""
            """
        let configuration = try ServerConfiguration(table: TOML.parse(text))
        #expect(configuration.tftp == nil)
        #expect(configuration.http == .init(host: "127.0.0.1", port: 8080))
        #expect(configuration.https == .init(host: "::1", port: 8443))
        #expect(configuration.certificate == "cert.pem")
        #expect(configuration.uploadPatterns == ["*-local.cfg", "*-contact.xml", "x.cfg"])
        #expect(configuration.uploadMaximumBytes == 1_048_576)
        #expect(configuration.directories == [
            DirectoryAccount(path: "T23G_1", username: "user1", password: "secret1"),
            DirectoryAccount(path: "T23G_2", username: "user2", password: "p#ss \"quoted\""),
        ])
    }

    @Test("the FTP keys: listener, passive ports and address, anonymous, [[ftp.user]]")
    func ftpKeys() throws {
        let text = """
            [ftp]
            listen = "0.0.0.0:2121"
            passive_ports = "40000-40010"
            passive_address = "198.51.100.7"
            anonymous = true
            epsv_reply_delay_us = 100
            [[ftp.user]]
            username = "phones"
            password = "pw"
            """
        let configuration = try ServerConfiguration(table: TOML.parse(text))
        #expect(configuration.ftpEPSVReplyDelayMicroseconds == 100)
        #expect(ServerConfiguration().ftpEPSVReplyDelayMicroseconds == 0)
        #expect(configuration.ftp == .init(host: "0.0.0.0", port: 2121))
        #expect(configuration.ftpPassivePorts == 40000...40010)
        #expect(configuration.ftpPassiveAddress == "198.51.100.7")
        #expect(configuration.ftpAnonymous)
        #expect(configuration.ftpUsers.map(\.username) == ["phones"])
        #expect(ServerConfiguration().ftp == .init(host: "0.0.0.0", port: 21))
        #expect(!ServerConfiguration().ftpAnonymous)
    }

    @Test("the PnP keys: enabled, listen, interfaces, url, allow_ouis, known_devices_only")
    func pnpKeys() throws {
        let text = """
            [pnp]
            listen = "192.0.2.1:5070"
            interfaces = ["eth0", "eth1"]
            url = "http://$SERVER/$PN/"
            allow_ouis = ["00:15:65", "805EC0", "e4-34-d7"]
            known_devices_only = true
            """
        let configuration = try ServerConfiguration(table: TOML.parse(text))
        #expect(configuration.pnp == .init(host: "192.0.2.1", port: 5070))
        #expect(configuration.pnpInterfaces == ["eth0", "eth1"])
        #expect(configuration.pnpURL == "http://$SERVER/$PN/")
        #expect(configuration.pnpAllowOUIs == ["00:15:65", "80:5e:c0", "e4:34:d7"])
        #expect(configuration.pnpKnownDevicesOnly)
        let defaults = ServerConfiguration()
        #expect(defaults.pnp == .init(host: "0.0.0.0", port: 5060))
        #expect(defaults.pnpAllowOUIs.count == 12 && defaults.pnpAllowOUIs.contains("00:15:65"))
        #expect(!defaults.pnpKnownDevicesOnly && defaults.pnpURL.isEmpty && defaults.pnpInterfaces.isEmpty)
        #expect(try ServerConfiguration(table: TOML.parse("[pnp]\nenabled = false")).pnp == nil)
        #expect(try ServerConfiguration(table: TOML.parse("[pnp]\nlisten = \"off\"")).pnp == nil)
    }

    @Test("the DHCP keys: interface, pool, network options, provisioning options, reservations; off by default")
    func dhcpKeys() throws {
        #expect(ServerConfiguration().dhcp == nil)
        let text = """
            [dhcp]
            enabled = true
            interface = "eth1"
            pool = "192.0.2.100-192.0.2.199"
            subnet_mask = "255.255.255.0"
            router = "192.0.2.1"
            dns = ["192.0.2.53", "192.0.2.54"]
            ntp = ["192.0.2.123"]
            lease_seconds = 7200
            option66 = "http://192.0.2.1:8080/"
            option43 = "http://192.0.2.1/43"
            option43_suboption = 1
            custom_option = 160
            custom_value = "http://192.0.2.1:8080/$PN/$MAC"
            [[dhcp.reservation]]
            mac = "00:15:65:74:B1:50"
            ip = "192.0.2.50"
            """
        let dhcp = try #require(try ServerConfiguration(table: TOML.parse(text)).dhcp)
        #expect(dhcp.interface == "eth1")
        #expect(dhcp.pool.lowerBound.description == "192.0.2.100" && dhcp.pool.upperBound.description == "192.0.2.199")
        #expect(dhcp.subnetMask?.description == "255.255.255.0" && dhcp.router?.description == "192.0.2.1")
        #expect(dhcp.dns.map(\.description) == ["192.0.2.53", "192.0.2.54"] && dhcp.ntp.map(\.description) == ["192.0.2.123"])
        #expect(dhcp.leaseSeconds == 7200)
        #expect(dhcp.reservations.mapValues(\.description) == ["00156574b150": "192.0.2.50"])
        let options = dhcp.provisioningOptions
        #expect(options.map(\.code) == [160, 66, 43])
        #expect(options[0].data == Array("http://192.0.2.1:8080/$PN/$MAC".utf8))
        #expect(options[2].data == [1, 19] + Array("http://192.0.2.1/43".utf8))
        #expect(try ServerConfiguration(table: TOML.parse("[dhcp]\nenabled = false\ninterface = \"eth1\"")).dhcp == nil)
    }

    @Test("errors name the line or the key", arguments: [
        ("root = provisioning", "line 1"), ("[tftp\nlisten = \"x\"", "line 1"), ("root = \"a\"\nroot = \"b\"", "line 2"),
        ("x = \"unterminated", "line 1"), ("[http]\nlisten = 80", "http.listen must be a string"),
        ("[http]\nlisten = \"nohost\"", "not HOST:PORT"), ("colour = \"red\"", "unknown key 'colour'"),
        ("[[directory]]\npath = \"a\"", "needs path, username and password"),
        ("[ftp]\npassive_ports = \"100-200\"", "passive_ports must be LOW-HIGH"),
        ("[ftp]\npassive_ports = \"5000\"", "passive_ports must be LOW-HIGH"),
        ("[ftp]\nepsv_reply_delay_us = -1", "epsv_reply_delay_us must be between 0 and 100000"),
        ("[limits]\nconnections_exempt = [\"10.0.0.0/33\"]", "prefix length out of range"),
        ("[limits]\nconnections_exempt = [\"phones.example\"]", "is not an address or a network"),
        ("[limits]\nconnections_per_address = 0", "limits.connections_per_address must be at least 1"),
        ("[ftp]\nanonymous = \"yes\"", "ftp.anonymous must be true or false"),
        ("[[ftp.user]]\nusername = \"a\"", "needs username and password"),
        ("[pnp]\nallow_ouis = [\"00:15\"]", "pnp.allow_ouis: '00:15' is not an OUI"),
        ("[pnp]\nenabled = \"no\"", "pnp.enabled must be true or false"),
        ("[pnp]\ninterfaces = \"eth0\"", "pnp.interfaces must be an array"),
        ("[pnp]\nport = 5060", "unknown key 'pnp.port'"),
        ("[dhcp]\nenabled = true\npool = \"192.0.2.10-192.0.2.20\"", "dhcp.interface is required"),
        ("[dhcp]\nenabled = true\ninterface = \"eth1\"", "dhcp.pool is required"),
        ("[dhcp]\nenabled = true\ninterface = \"eth1\"\npool = \"192.0.2.10\"", "must be START-END"),
        ("[dhcp]\nenabled = true\ninterface = \"eth1\"\npool = \"192.0.2.10-192.0.2.300\"", "not an IPv4 address"),
        ("[dhcp]\nenabled = true\ninterface = \"eth1\"\npool = \"192.0.2.10-192.0.2.20\"\ncustom_option = 66\ncustom_value = \"x\"",
         "outside 128 to 254"),
        ("[dhcp]\nenabled = true\ninterface = \"eth1\"\npool = \"192.0.2.10-192.0.2.20\"\ncustom_option = 160",
         "custom_option needs custom_value"),
        ("[dhcp]\nenabled = true\ninterface = \"eth1\"\npool = \"192.0.2.10-192.0.2.20\"\nlease_seconds = 5", "outside 60"),
        ("[[dhcp.reservation]]\nmac = \"00:15:65\"\nip = \"192.0.2.5\"", "not a MAC address"),
        ("[[dhcp.reservation]]\nmac = \"001565000001\"\nip = \"192.0.2.5\"\n[[dhcp.reservation]]\nmac = \"001565000002\"\nip = \"192.0.2.5\"",
         "reserved for both"),
        ("[dhcp]\nscope = \"x\"", "unknown key 'dhcp.scope'"),
        ("[dhcp]\nenabled = true\ninterface = \"eth1\"\npool = \"192.0.2.10-192.0.2.20\"\nrelayed = true", "relayed needs subnet_mask"),
        ("[dhcp]\nenabled = true\ninterface = \"eth1\"\npool = \"192.0.2.10-192.0.3.20\"\nrelayed = true\nsubnet_mask = \"255.255.255.0\"",
         "not on one network"),
    ])
    func errors(text: String, message: String) {
        do {
            _ = try ServerConfiguration(table: TOML.parse(text))
            Issue.record("accepted: \(text)")
        } catch let error as TOMLError {
            #expect(error.description.contains(message), "\(error)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    @Test("upload patterns", arguments: [
        ("*-local.cfg", "00156574b150-local.cfg", true), ("*-local.cfg", "y000000000000.boot", false),
        ("*-contact.xml", "00156574b150-contact.xml", true), ("?.cfg", "a.cfg", true), ("?.cfg", "ab.cfg", false),
        ("*", "anything", true),
        ("$MAC-local.cfg", "00156574b150-local.cfg", true), ("$MAC-local.cfg", "evil-local.cfg", false),
        ("$MAC-local.cfg", "00156574B150-local.cfg", false), ("$MAC-local.cfg", "00156574b15-local.cfg", false),
        ("$MAC-local.cfg", "00156574b1500-local.cfg", false), ("$MAC-contact.xml", "00156574b150-contact.xml", true),
        ("$MAC*.xml", "00156574b150-favorites.xml", true),
    ])
    func glob(pattern: String, name: String, matches: Bool) {
        #expect(Glob.matches(pattern: pattern, name: name) == matches)
    }

    @Test("Digest (RFC 7616 §3.9.1 example, SHA-256 and MD5) is verified against the password")
    func digest() throws {
        let checker = CredentialChecker(directories: [])
        let account = DirectoryAccount(path: "http-auth@example.org", username: "Mufasa", password: "Circle of Life")
        for (algorithm, hash) in [("SHA-256", sha256), ("MD5", md5)] {
            // Each challenge has a nonce of its own.
            let challenge = checker.challenges(realm: account.path, stale: false)
            #expect(challenge.count == 3)
            let nonce = try #require(challenge[0].split(separator: "\"").dropFirst(5).first.map(String.init))
            let ha1 = hash("Mufasa:http-auth@example.org:Circle of Life")
            let ha2 = hash("GET:/dir/index.html")
            let response = hash("\(ha1):\(nonce):00000001:f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ:auth:\(ha2)")
            let header = "username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", "
                + "algorithm=\(algorithm), nonce=\"\(nonce)\", nc=00000001, "
                + "cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, response=\"\(response)\""
            let digest = try #require(DigestResponse(header: header, method: "GET"))
            let request = FileRequest(.http, path: "/dir/index.html",
                                      client: "192.0.2.1", credentials: .digest(digest))
            guard case .granted = checker.check(request, for: account) else { Issue.record("\(algorithm) refused"); continue }
            // The same response replayed for another path is refused (RFC 7616 §3.4.6).
            let replayed = FileRequest(.http, path: "/other.cfg",
                                       client: "192.0.2.2", credentials: .digest(digest))
            guard case .challenge = checker.check(replayed, for: account) else { Issue.record("\(algorithm) replay"); continue }
            var wrong = digest
            wrong.response = String(repeating: "0", count: response.count)
            let bad = FileRequest(.http, path: "/dir/index.html", client: "192.0.2.1",
                                  credentials: .digest(wrong))
            guard case .challenge = checker.check(bad, for: account) else { Issue.record("\(algorithm) accepted a bad response"); continue }
        }
    }

    @Test("what each protocol can carry decides S5: TFTP refused, HTTP challenged, FTP's other account not a guess")
    func protocolsDecide() {
        #expect(FileProtocol.allCases.filter(\.percentEncodesPaths) == [.http, .https])
        #expect(FileProtocol.allCases.filter { !$0.carriesCredentials } == [.tftp])
        let checker = CredentialChecker(directories: [])
        let account = DirectoryAccount(path: "T23G_1", username: "user1", password: "secret1")
        let anonymous = { (wire: FileProtocol) in FileRequest(wire, path: "T23G_1/a.cfg", client: "192.0.2.9") }
        guard case .refused = checker.check(anonymous(.tftp), for: account),
              case .challenge = checker.check(anonymous(.http), for: account) else {
            Issue.record("TFTP must be refused and HTTP challenged")
            return
        }
        let other = FileRequest(.ftp, path: "T23G_1/a.cfg", client: "192.0.2.9",
                                credentials: .password(username: "phones", password: "pw"))
        for _ in 0..<6 {
            guard case .refused = checker.check(other, for: account) else { Issue.record("FTP's other account let in"); return }
        }
        // Not counted: the first real failure from that address is still not slowed down.
        #expect(checker.failed("192.0.2.9") == .zero)
    }

    @Test("Digest nonce counts (RFC 7616 §3.4): one request may be checked twice; another with the same count is a replay")
    func digestNonceCount() throws {
        let checker = CredentialChecker(directories: [])
        let account = DirectoryAccount(path: "T23G_1", username: "user1", password: "secret1")
        let first = checker.challenges(realm: account.path, stale: false)[0]
        let nonce = try #require(first.split(separator: "\"").dropFirst(5).first.map(String.init))
        #expect(nonce != checker.challenges(realm: account.path, stale: false)[0].split(separator: "\"").dropFirst(5).first.map(String.init))
        func request(count: String) throws -> FileRequest {
            let ha1 = md5("user1:T23G_1:secret1"), ha2 = md5("GET:/T23G_1/a.cfg")
            let response = md5("\(ha1):\(nonce):\(count):abc:auth:\(ha2)")
            let header = "username=\"user1\", realm=\"T23G_1\", uri=\"/T23G_1/a.cfg\", algorithm=MD5, nonce=\"\(nonce)\", "
                + "nc=\(count), cnonce=\"abc\", qop=auth, response=\"\(response)\""
            let digest = try #require(DigestResponse(header: header, method: "GET"))
            return FileRequest(.http, path: "/T23G_1/a.cfg", client: "192.0.2.1",
                               credentials: .digest(digest))
        }
        let one = try request(count: "00000001")
        guard case .granted = checker.check(one, for: account), case .granted = checker.check(one, for: account) else {
            Issue.record("a request checked twice was refused")
            return
        }
        guard case .challenge(_, stale: true) = checker.check(try request(count: "00000001"), for: account) else {
            Issue.record("a replayed count was accepted")
            return
        }
        guard case .granted = checker.check(try request(count: "00000002"), for: account) else {
            Issue.record("the next count was refused")
            return
        }
        guard case .challenge = checker.check(try request(count: "00000002"), for: account) else {
            Issue.record("the second count replayed was accepted")
            return
        }
    }
}

import Crypto
import ProvisioningCore

func sha256(_ text: String) -> String { Hex.encode(SHA256.hash(data: Data(text.utf8))) }
func md5(_ text: String) -> String { Hex.encode(Insecure.MD5.hash(data: Data(text.utf8))) }

