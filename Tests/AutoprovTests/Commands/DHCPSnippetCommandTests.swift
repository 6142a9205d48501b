import Foundation
import Testing
import TestSupport

/// `autoprov dhcp snippet`: every Kea, dnsmasq and ISC dhcpd snippet is fed to that server's own checker.
@Suite("autoprov dhcp snippet (R8.1), checked by kea-dhcp4 -t, dnsmasq --test and dhcpd -t", .blocking, .timeLimit(.minutes(5)))
struct DHCPSnippetCommandTests {
    static let url = "http://10.0.0.5:8080/prov,$PN/$MAC.boot"

    /// The options a site might choose, as `snippet` arguments.
    static let choices: [[String]] = [
        ["--option", "66"], ["--option", "43"], ["--option", "43", "--option43", "suboption:1"],
        ["--option", "160"], ["--option", "254"],
    ]

    /// Checks `text` with the server's own checker: its exit status and what it said.
    static func check(_ server: String, _ text: String) throws -> (status: Int32, output: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-dhcp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("snippet.conf")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let result = switch server {
        case "kea": try Client.run("/usr/sbin/kea-dhcp4", ["-t", file.path])
        case "dnsmasq": try Client.run("/usr/sbin/dnsmasq", ["--test", "--conf-file=\(file.path)"])
        default: try Client.run("/usr/sbin/dhcpd", ["-4", "-t", "-cf", file.path])
        }
        return (result.status, result.stdout + result.stderr)
    }

    @Test("every option and both matches: each snippet passes its server's checker", arguments: ["kea", "dnsmasq", "isc-dhcpd"])
    func snippetsPassTheirCheckers(server: String) throws {
        for choice in Self.choices {
            for match in ["oui", "vendor-class"] {
                let printed = try CommandRunner.run(["dhcp", "snippet", "--url", Self.url, "--for", server,
                                                     "--match", match] + choice)
                #expect(printed.status == 0, "\(choice) \(match): \(printed.stderr)")
                let checked = try Self.check(server, printed.stdout)
                #expect(checked.status == 0, "\(server) \(choice) \(match):\n\(printed.stdout)\n\(checked.output)")
            }
        }
    }

    @Test("the checkers do check: a snippet with a line of nonsense after it fails", arguments: ["kea", "dnsmasq", "isc-dhcpd"])
    func brokenSnippetsFail(server: String) throws {
        let printed = try CommandRunner.run(["dhcp", "snippet", "--url", Self.url, "--for", server])
        #expect(try Self.check(server, printed.stdout).status == 0)
        #expect(try Self.check(server, printed.stdout + "no-such-setting = {\n").status != 0)
    }

    @Test("what each snippet says: the URL in the right option, for Yealink's prefixes or vendor class")
    func contents() throws {
        let dnsmasq = try CommandRunner.run(["dhcp", "snippet", "--url", Self.url, "--for", "dnsmasq"]).stdout
        #expect(dnsmasq.contains("dhcp-mac=set:autoprov-yealink,00:15:65:*:*:*"))
        #expect(dnsmasq.contains("dhcp-mac=set:autoprov-yealink,80:5e:c0:*:*:*"))
        #expect(dnsmasq.contains("dhcp-option-force=tag:autoprov-yealink,66,\"\(Self.url)\""))
        let sub = try CommandRunner.run(["dhcp", "snippet", "--url", "http://a/", "--for", "dnsmasq", "--option", "43",
                                         "--option43", "suboption:2", "--match", "vendor-class"]).stdout
        #expect(sub.contains("dhcp-vendorclass=set:autoprov-yealink,yealink"))
        #expect(sub.contains("dhcp-option-force=tag:autoprov-yealink,43,02:09:68:74:74:70:3a:2f:2f:61:2f"))
        let kea = try CommandRunner.run(["dhcp", "snippet", "--url", Self.url, "--for", "kea", "--option", "160"]).stdout
        #expect(kea.contains(#"{ "name": "autoprov-url-160", "code": 160, "type": "string" }"#))
        #expect(kea.contains(#""data": "http://10.0.0.5:8080/prov\\,$PN/$MAC.boot""#))
        #expect(kea.contains("substring(pkt4.mac, 0, 3) == 0x001565"))
        let windows = try CommandRunner.run(["dhcp", "snippet", "--url", Self.url, "--for", "windows"]).stdout
        #expect(windows.contains("-MacAddress EQ,001565*,E434D7*"))
        #expect(windows.contains("-OptionId 66 -Value '\(Self.url)'"))
        let all = try CommandRunner.run(["dhcp", "snippet", "--url", Self.url]).stdout
        #expect(all.contains("\"Dhcp4\"") && all.contains("dhcp-mac=") && all.contains("class \"autoprov-yealink\"")
                    && all.contains("Add-DhcpServerv4Policy"))
    }

    @Test("refused: an option phones do not read, a URL a configuration cannot quote, a sub-option out of range")
    func refusals() throws {
        let cases: [([String], String)] = [
            (["--option", "67"], "option 67"),
            (["--option", "255"], "option 255"),
            (["--option", "43", "--option43", "suboption:0"], "sub-option 0"),
            (["--option", "43", "--option43", "sub:1"], "--option43"),
            (["--for", "infoblox"], "--for"),
            (["--match", "hostname"], "--match"),
        ]
        for (arguments, message) in cases {
            let result = try CommandRunner.run(["dhcp", "snippet", "--url", "http://a/"] + arguments)
            #expect(result.status == 64, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
        let quoted = try CommandRunner.run(["dhcp", "snippet", "--url", "http://a/\"x"])
        #expect(quoted.status == 64)
        #expect(quoted.stderr.contains("cannot carry"))
    }
}
