@testable import ProvisioningCore
import Testing

/// R8.1: the DHCP options phones read, as configuration for a site's own DHCP server.
@Suite("DHCP snippets (R8.1)", .timeLimit(.minutes(2)))
struct DHCPSnippetTests {
    @Test("options phones read: 66, 43 and 128-254; anything else is refused with the reason", arguments: [
        (66, true), (43, true), (128, true), (160, true), (254, true), (67, false), (127, false), (255, false), (0, false),
    ])
    func options(option: Int, allowed: Bool) {
        let result = Result { try DHCPSnippet(url: "http://a/", option: option) }
        if allowed {
            #expect((try? result.get())?.option == option)
        } else {
            #expect(throws: DHCPSnippet.Problem(description: "option \(option): use 66, 43, or a custom option from 128 to 254")) {
                try result.get()
            }
        }
    }

    @Test("URLs: $PN and $MAC pass through; quotes, backslashes and control characters are refused; 255 bytes at most")
    func urls() throws {
        let template = try DHCPSnippet(url: "tftp://10.0.0.1/$PN/$MAC.cfg")
        #expect(template.text(for: .iscDHCPD).contains("option tftp-server-name \"tftp://10.0.0.1/$PN/$MAC.cfg\";"))
        for bad in ["", "http://a/\"", "http://a/'", "http://a\\b", "http://a/\n", "http://a/\u{7F}"] {
            #expect(throws: DHCPSnippet.Problem.self) { try DHCPSnippet(url: bad) }
        }
        #expect(throws: DHCPSnippet.Problem.self) { try DHCPSnippet(url: "http://" + String(repeating: "a", count: 249)) }
        #expect(try DHCPSnippet(url: "http://" + String(repeating: "a", count: 248)).url.utf8.count == 255)
    }

    @Test("option 43: the URL whole, or as vendor sub-option N (code, length, bytes)")
    func option43() throws {
        #expect(try DHCPSnippet.option43("string") == .string)
        #expect(try DHCPSnippet.option43("suboption:7") == .subOption(7))
        #expect(throws: DHCPSnippet.Problem.self) { try DHCPSnippet.option43("suboption:x") }
        #expect(throws: DHCPSnippet.Problem.self) { try DHCPSnippet(url: "http://a/", option: 43, option43: .subOption(255)) }
        let whole = try DHCPSnippet(url: "http://a/", option: 43)
        #expect(whole.option43Bytes == Array("http://a/".utf8))
        let sub = try DHCPSnippet(url: "http://a/", option: 43, option43: .subOption(1))
        #expect(sub.option43Bytes == [1, 9] + Array("http://a/".utf8))
        #expect(sub.text(for: .windows).contains("-OptionId 43 -Value 0x01,0x09,0x68,0x74"))
        #expect(sub.text(for: .iscDHCPD).contains("option autoprov.provisioning-url code 1 = text;"))
    }

    @Test("matching: every Yealink prefix, or option 60 starting with 'yealink'")
    func matching() throws {
        let byPrefix = try DHCPSnippet(url: "http://a/")
        let isc = byPrefix.text(for: .iscDHCPD)
        // The prefixes as yealink-protocols.md lists them (wazo's list), not as the code under test keeps them.
        let spec = "00:15:65, E4:34:D7, 80:5E:C0, 80:5E:0C, 24:9A:D8, 44:DB:D2, 64:4F:56, EC:1D:A9, 34:97:D7, "
            + "B0:61:A9, C4:FC:22, F0:16:53"
        let ouis = spec.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        #expect(ouis.count == 12)
        for oui in ouis { #expect(isc.contains("substring(hardware, 1, 3) = \(oui)"), "\(oui)") }
        let byClass = try DHCPSnippet(url: "http://a/", match: .vendorClass)
        #expect(byClass.text(for: .kea).contains("substring(option[60].hex, 0, 7) == 'yealink'"))
        #expect(byClass.text(for: .iscDHCPD).contains("substring(option vendor-class-identifier, 0, 7) = \"yealink\""))
        #expect(!byClass.text(for: .dnsmasq).contains("dhcp-mac"))
    }
}
