@testable import ProvisioningCore
import Testing

@Suite("Boot files (R2)", .timeLimit(.minutes(2)))
struct BootFileTests {
    /// The Guide's boot file ("An Instance of Auto Provision Configuration").
    static let guideBoot = """
        #!version:1.0.0.1
        ## The header above must appear as-is in the first line

        include:config <tftp://10.2.5.193/network.cfg>
        include:config <../sip.cfg>

        include:config "features.cfg"

        overwrite_mode = 1

        """

    @Test("R2.1: boot file names")
    func names() throws {
        #expect(BootFile.commonName == "y000000000000.boot")
        #expect(BootFile.name(for: try MACAddress("00156574B150")) == "00156574b150.boot")
    }

    @Test("R2.2: the Guide's includes, in order")
    func guideIncludes() {
        let boot = BootFile(ConfigFile(text: Self.guideBoot))
        #expect(boot.includes.map(\.path) == ["tftp://10.2.5.193/network.cfg", "../sip.cfg", "features.cfg"])
        #expect(boot.includes.map(\.line) == [4, 5, 7])
    }

    @Test("R2.2: include forms", arguments: [
        ("include:config <sip.cfg>", "sip.cfg", nil),
        ("include:config \"HTTP Directory/sip.cfg\"", "HTTP Directory/sip.cfg", nil),
        ("  include:config   <SIP.CFG>  ", "SIP.CFG", nil),
        ("include:config <http://h/x.cfg?mac=1>", "http://h/x.cfg?mac=1", nil),
        ("include:config “features.cfg”", nil, IncludeProblem.curlyQuote),
        ("include:config \"features.cfg”", nil, .curlyQuote),
        ("include:config <features.cfg", nil, .unclosed(">")),
        ("include:config \"features.cfg", nil, .unclosed("\"")),
        ("include:config features.cfg", nil, .missingDelimiter),
        ("include:config <>", "", .emptyPath),
        ("include:config <features.xml>", "features.xml", .notCFG("features.xml")),
        ("include:config <a.cfg> <b.cfg>", "a.cfg", .trailingText("<b.cfg>")),
    ] as [(String, String?, IncludeProblem?)])
    func includeForms(line: String, path: String?, problem: IncludeProblem?) throws {
        let file = ConfigFile(text: "#!version:1.0.0.1\n" + line + "\n")
        guard case .include(let include) = file.lines[1].kind else {
            Issue.record("not an include: \(file.lines[1].kind)")
            return
        }
        #expect(include.problem == problem)
        if problem == nil { #expect(include.path == path) }
        #expect(BootFile(file).includes.count == (problem == nil ? 1 : 0))
    }

    @Test("R2.2: the path column points at the path")
    func includeColumn() {
        let file = ConfigFile(text: "#!version:1.0.0.1\n  include:config <a.cfg>\n")
        guard case .include(let include) = file.lines[1].kind else { Issue.record("not an include"); return }
        #expect(include.column == 19)
    }

    @Test("R2.4: overwrite mode is on unless the boot file says 0", arguments: [
        ("", true), ("overwrite_mode = 1\n", true), ("overwrite_mode = 0\n", false),
        ("overwrite_mode = 0\noverwrite_mode = 1\n", true), ("overwrite_mode = 1\noverwrite_mode = 0\n", false),
    ])
    func overwriteMode(lines: String, isOn: Bool) {
        #expect(BootFile(ConfigFile(text: "#!version:1.0.0.1\n" + lines)).overwriteMode.isOn == isOn)
    }
}
