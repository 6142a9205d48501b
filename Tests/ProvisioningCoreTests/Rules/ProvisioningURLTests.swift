@testable import ProvisioningCore
import Testing

@Suite("Include paths and URLs (R2.3, R3.6)", .timeLimit(.minutes(2)))
struct ProvisioningURLTests {
    @Test("R2.3: relative paths resolve against the boot file's URL", arguments: [
        ("tftp://10.2.5.193/y000000000000.boot", "sip.cfg", "tftp://10.2.5.193/sip.cfg"),
        ("tftp://10.2.5.193/y000000000000.boot", "../sip.cfg", "tftp://10.2.5.193/sip.cfg"),
        ("tftp://h/T42G/y000000000000.boot", "../sip.cfg", "tftp://h/sip.cfg"),
        ("tftp://h/T42G/y000000000000.boot", "common/sip.cfg", "tftp://h/T42G/common/sip.cfg"),
        ("http://h:8080/a/b/00156574b150.boot", "HTTP Directory/sip.cfg", "http://h:8080/a/b/HTTP%20Directory/sip.cfg"),
        ("http://h/a/b/x.boot", "./c/./d/../e.cfg", "http://h/a/b/c/e.cfg"),
        ("http://h/a/b/x.boot", "/top.cfg", "http://h/top.cfg"),
        ("http://h/a/b/x.boot", "//other/x.cfg", "http://other/x.cfg"),
        ("http://h/a/b/x.boot", "../../../../x.cfg", "http://h/x.cfg"),
        ("tftp://h/x.boot", "tftp://10.2.5.193/network.cfg", "tftp://10.2.5.193/network.cfg"),
        ("tftp://h/x.boot", "http://10.2.5.258/HTTP Directory/sip.cfg", "http://10.2.5.258/HTTP%20Directory/sip.cfg"),
        ("tftp://h/x.boot", "HTTPS://H/A.cfg", "https://H/A.cfg"),
        ("tftp://h/d/x.boot", "c:x.cfg", "tftp://h/d/c:x.cfg"),
    ])
    func resolution(base: String, reference: String, expected: String) throws {
        #expect(try ProvisioningURL(base).resolving(reference).description == expected)
    }

    /// RFC 3986 §5.4.1, the normal examples that apply to paths.
    @Test("RFC 3986 §5.4.1 normal examples", arguments: [
        ("g", "http://a/b/c/g"), ("./g", "http://a/b/c/g"), ("g/", "http://a/b/c/g/"), ("/g", "http://a/g"),
        ("//g", "http://g/"), ("?y", "http://a/b/c/d;p?y"), ("g?y", "http://a/b/c/g?y"), (";x", "http://a/b/c/;x"),
        ("g;x", "http://a/b/c/g;x"), ("", "http://a/b/c/d;p?q"), (".", "http://a/b/c/"), ("./", "http://a/b/c/"),
        ("..", "http://a/b/"), ("../", "http://a/b/"), ("../g", "http://a/b/g"), ("../..", "http://a/"),
        ("../../", "http://a/"), ("../../g", "http://a/g"), ("../../../g", "http://a/g"),
        ("/./g", "http://a/g"), ("/../g", "http://a/g"), ("g.", "http://a/b/c/g."), ("..g", "http://a/b/c/..g"),
        ("./../g", "http://a/b/g"), ("./g/.", "http://a/b/c/g/"), ("g/./h", "http://a/b/c/g/h"),
        ("g/../h", "http://a/b/c/h"),
    ])
    func rfcExamples(reference: String, expected: String) throws {
        #expect(try ProvisioningURL("http://a/b/c/d;p?q").resolving(reference).description == expected)
    }

    @Test("server paths are relative to the root and percent-decoded")
    func relativePaths() throws {
        let root = try ProvisioningURL("http://h:80/")
        #expect(try ProvisioningURL("http://H:80/HTTP%20Directory/sip.cfg").path(relativeTo: root)
            == "HTTP Directory/sip.cfg")
        #expect(try ProvisioningURL("http://other:80/sip.cfg").path(relativeTo: root) == nil)
        #expect(try ProvisioningURL("http://h:81/sip.cfg").path(relativeTo: root) == nil)
        #expect(try ProvisioningURL("tftp://h:80/sip.cfg").path(relativeTo: root) == nil)
    }

    @Test("what is not a provisioning URL is refused", arguments: [
        "", "sip.cfg", "mailto:x@y", "file:///etc/passwd", "http://", "ldap://h/x", "tftp:/x",
    ])
    func refused(text: String) {
        #expect(throws: ProvisioningURLError(text: text)) { try ProvisioningURL(text) }
    }

    @Test("R3.6: the Guide's $PN example for T42G and T46G")
    func productNameWildcard() throws {
        let mac = try MACAddress("00156543EC97")
        let template = ServerURLTemplate("tftp://192.168.1.100/$PN")
        #expect(template.expanded(productName: "T42G", mac: mac) == "tftp://192.168.1.100/T42G")
        #expect(try template.start(productName: "T46G", mac: mac)
            == .directory(ProvisioningURL("tftp://192.168.1.100/T46G/")))
    }

    @Test("R3.6: a URL naming a .boot file, with $PN and $MAC")
    func bootFileWildcard() throws {
        let mac = try MACAddress("00156543EC97")
        let template = ServerURLTemplate("tftp://192.168.1.100/$PN/$MAC.boot")
        #expect(try template.start(productName: "T42G", mac: mac)
            == .bootFile(ProvisioningURL("tftp://192.168.1.100/T42G/00156543ec97.boot")))
    }
}
