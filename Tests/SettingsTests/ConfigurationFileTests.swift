import DHCP
import Foundation
import ProvisioningCore
import Testing
@testable import Settings

@Suite("Configuration file", .timeLimit(.minutes(2)))
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

    @Test("the documented example file parses to the defaults")
    func example() throws {
        let table = try TOML.parse(ServerConfiguration.exampleFile)
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
            [inventory]
            secret_variables = ["*key*"]
            server_url = "http://prov.example/"
            [inventory.variables]
            sip_server = "pbx.example"
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
        #expect(configuration.secretVariables == ["*key*"])
        #expect(configuration.inventoryVariables == ["sip_server": "pbx.example"])
        #expect(configuration.templateServerURL == "http://prov.example/")
        #expect(ServerConfiguration().secretVariables == ["*password*", "*secret*", "*pin*"])
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
            epsv_reply_delay_us = 0
            [[ftp.user]]
            username = "phones"
            password = "pw"
            """
        let configuration = try ServerConfiguration(table: TOML.parse(text))
        #expect(configuration.ftpEPSVReplyDelayMicroseconds == 0)
        #expect(ServerConfiguration().ftpEPSVReplyDelayMicroseconds == 100)
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
        ("[limits]\nhead_bytes = 512", "limits.head_bytes must be between 1024 and 65536 (it is 512)"),
        ("[limits]\nhead_bytes = 100000", "limits.head_bytes must be between 1024 and 65536"),
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
        ("[inventory]\nsecret_variable = [\"*key*\"]", "unknown key 'inventory.secret_variable'"),
        ("[inventory]\nsecret_variables = \"*key*\"", "inventory.secret_variables must be an array"),
        ("[inventory.variables]\nmac = \"x\"", "inventory.variables.mac: not a variable name that may be set"),
        ("[inventory.variables]\nfloor = 2", "inventory.variables.floor must be a string"),
        ("[dhcp]\nenabled = true\ninterface = \"eth1\"\npool = \"192.0.2.10-192.0.2.20\"\nrelayed = true", "relayed needs subnet_mask"),
        ("[dhcp]\nenabled = true\ninterface = \"eth1\"\npool = \"192.0.2.10-192.0.3.20\"\nrelayed = true\nsubnet_mask = \"255.255.255.0\"",
         "not on one network"),
    ])
    func errors(text: String, message: String) {
        do {
            _ = try ServerConfiguration(table: TOML.parse(text))
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.contains(message), "\(error)")
        }
    }

    @Test("one error shape: a code for each kind of problem, and the file and line where there are some", arguments: [
        ("root = provisioning", ConfigurationError.Code.syntax, Int?(1)), ("root = \"a\"\n[http]\nlisten = 80", .wrongType, nil),
        ("colour = \"red\"", .unknownKey, nil), ("[[directory]]\npath = \"a\"", .missingKey, nil),
        ("[limits]\nconnections_per_address = 0", .badValue, nil),
        ("[https]\nclient_ca = \"/nonexistent/ca.pem\"", .unreadableFile, nil),
    ])
    func errorShape(text: String, code: ConfigurationError.Code, line: Int?) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-toml-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("autoprov.toml").path
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        do {
            let configuration = try ServerConfiguration.load(file: file)
            // A file named by the configuration is read when the server starts.
            _ = try ServerCertificate.tlsConfiguration(configuration, dataDirectory: folder)
            Issue.record("accepted: \(text)")
        } catch let error as ConfigurationError {
            #expect(error.code == code, "\(error)")
            #expect(error.line == line, "\(error)")
            if code != .unreadableFile { #expect(error.file == file, "\(error)") }
            #expect(error.description.hasSuffix("[\(code.rawValue)]"), "\(error)")
        }
    }

}
