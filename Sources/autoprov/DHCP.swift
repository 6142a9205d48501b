import ArgumentParser
import ProvisioningCore

struct DHCP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dhcp",
        abstract: "Hand phones the provisioning URL over DHCP.",
        subcommands: [Snippet.self])

    struct Snippet: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print configuration for the DHCP server a site already runs.",
            discussion: """
                Yealink phones look for the provisioning URL in a custom option (128-254), then option 66, then \
                option 43 (R8.1); the URL may hold $PN and $MAC, which the phone expands. The snippet gives the URL \
                to Yealink phones only, matched by their MAC prefixes or by the vendor class 'yealink' they send in \
                option 60. How Yealink phones read option 43 is not publicly documented: --option43 string (the \
                default) sends the URL as the whole option, suboption:N as vendor sub-option N. The Kea, dnsmasq \
                and ISC dhcpd snippets are checked by those servers' own checkers in autoprov's tests; the Windows \
                commands are not (no Windows DHCP server runs there).
                """)

        @Option(help: "The provisioning URL, as phones should get it (e.g. 'http://10.0.0.5:8080/$PN/').")
        var url: String

        @Option(help: "66, 43, or a custom option from 128 to 254 (160 is a common choice).")
        var option = 66

        @Option(name: .customLong("for"),
                help: "kea, dnsmasq, isc-dhcpd or windows (default: all four, one after the other).")
        var server: String?

        @Option(help: "How phones are recognized: oui (MAC prefix) or vendor-class (option 60).")
        var match = "oui"

        @Option(name: .customLong("option43"), help: "With --option 43: string, or suboption:N.")
        var option43 = "string"

        func validate() throws {
            if let server, DHCPSnippet.Server(rawValue: server) == nil {
                throw ValidationError("--for '\(server)': use kea, dnsmasq, isc-dhcpd or windows")
            }
            guard DHCPSnippet.Match(rawValue: match) != nil else {
                throw ValidationError("--match '\(match)': use oui or vendor-class")
            }
            _ = try snippet()
        }

        private func snippet() throws -> DHCPSnippet {
            do {
                return try DHCPSnippet(url: url, option: option, option43: DHCPSnippet.option43(option43),
                                       match: DHCPSnippet.Match(rawValue: match) ?? .oui)
            } catch let problem as DHCPSnippet.Problem {
                throw ValidationError(problem.description)
            }
        }

        func run() throws {
            let snippet = try snippet()
            let servers = server.flatMap(DHCPSnippet.Server.init(rawValue:)).map { [$0] } ?? DHCPSnippet.Server.allCases
            print(servers.map { snippet.text(for: $0) }.joined(separator: "\n"), terminator: "")
        }
    }
}
