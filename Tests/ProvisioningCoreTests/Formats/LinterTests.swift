@testable import ProvisioningCore
import Testing

@Suite("lint findings", .timeLimit(.minutes(2)))
struct LinterTests {
    func codes(_ path: String, _ text: String, existing: Set<String> = []) -> [String] {
        findings(path, text, existing: existing).map(\.code)
    }

    func findings(_ path: String, _ text: String, existing: Set<String> = []) -> [Diagnostic] {
        Linter(fileExists: { existing.contains($0) }).lint(path: path, bytes: Array(text.utf8))
    }

    @Test("clean files of every role have no findings", arguments: [
        ("y000000000000.boot", BootFileTests.guideBoot.replacingAll("<../sip.cfg>", with: "<sip.cfg>")),
        ("00156574b150.boot", "#!version:1.0.0.1\ninclude:config <account.cfg>\ninclude:config \"network.cfg\"\n"),
        ("features.cfg", "#!version:1.0.0.1\nfeatures.dnd_mode = 0\nfeatures.dnd.enable = 1\n"),
        ("settings.cfg", ConfigFileTests.settingsCFG),
        ("y000000000028.cfg", "#!version:1.0.0.1\naccount.16.enable = 1\n"),
        ("00156574b150.cfg", "#!version:1.0.0.1\naccount.1.label = abc\n"),
        ("00156574b150-local.cfg", "#!version:1.0.0.1\naccount.1.label = mine\n"),
        ("activation.cfg", ActivationAndTriggerTests.guideCodes),
    ])
    func clean(path: String, text: String) {
        #expect(findings(path, text, existing: ["sip.cfg", "features.cfg", "account.cfg", "network.cfg"]) == [])
    }

    @Test("each rule's finding, with its code, severity, line and column", arguments: [
        ("a.cfg", "account.1.label = x\n", "missing-header", Diagnostic.Severity.error, 1, 1),
        ("a.cfg", "\u{FEFF}#!version:1.0.0.1\n", "byte-order-mark", .warning, 1, 1),
        ("a.cfg", "#!version:1.0.0.1\nfeatures.dnd mode = 0\n", "invalid-line", .error, 2, 1),
        ("a.cfg", "#!version:1.0.0.1\na = 1\n  a = 2\n", "duplicate-key", .warning, 3, 3),
        ("a.cfg", "#!version:1.0.0.1\noverwrite_mode = 1\n", "overwrite-outside-boot", .error, 2, 1),
        ("a.cfg", "#!version:1.0.0.1\ninclude:config <b.cfg>\n", "include-outside-boot", .error, 2, 1),
        ("y000000000000.boot", "#!version:1.0.0.1\ninclude:config “a.cfg”\n", "curly-quote", .error, 2, 16),
        ("y000000000000.boot", "#!version:1.0.0.1\ninclude:config <a.cfg\n", "bad-include", .error, 2, 17),
        ("y000000000000.boot", "#!version:1.0.0.1\ninclude:config <a.txt>\n", "bad-include", .error, 2, 17),
        ("y000000000000.boot", "#!version:1.0.0.1\noverwrite_mode = yes\n", "bad-overwrite-mode", .error, 2, 18),
        ("y000000000000.boot", "#!version:1.0.0.1\naccount.1.label = x\n", "boot-setting-ignored", .warning, 2, 1),
        ("y000000000000.boot", "#!version:1.0.0.1\ninclude:config <gone.cfg>\n", "missing-include", .warning, 2, 17),
        ("00156574b150-local.cfg", "#!version:1.0.0.1\nstatic.lang.wui = English\n", "static-in-local", .warning, 2, 1),
        ("y000000000029.cfg", "#!version:1.0.0.1\naccount.13.enable = 1\n", "account-out-of-range", .warning, 2, 1),
        ("a.cfg", "#!version:1.0.0.1\n[T23G]\naccount.4.enable = 1\n", "account-out-of-range", .warning, 3, 1),
        ("a.cfg", "#!version:1.0.0.1\n[T99Q]\n", "unknown-model", .warning, 2, 2),
        ("a.cfg", "#!version:1.0.0.1\nstatic.auto_provision.aes_key_16.com = 123\n", "bad-aes-key", .error, 2, 40),
        ("a.cfg", "#!version:1.0.0.1\nstatic.auto_provision.aes_key.mac = 0123456789abcde!\n", "bad-aes-key", .error, 2, 37),
        ("a.cfg", "#!version:1.0.0.1\nstatic.autoprovision.1.code = 12x\nstatic.autoprovision.1.url = http://h/\n",
         "bad-activation-code", .error, 2, 31),
        ("00156574B150.cfg", "#!version:1.0.0.1\n", "bad-filename", .warning, 1, 1),
        ("Y000000000077.cfg", "#!version:1.0.0.1\n", "bad-filename", .warning, 1, 1),
        ("00:15:65:74:b1:50.boot", "#!version:1.0.0.1\n", "bad-filename", .warning, 1, 1),
        ("phones.boot", "#!version:1.0.0.1\n", "bad-filename", .warning, 1, 1),
    ] as [(String, String, String, Diagnostic.Severity, Int, Int)])
    func finding(path: String, text: String, code: String, severity: Diagnostic.Severity, line: Int, column: Int) {
        let found = findings(path, text)
        #expect(found.count == 1, "\(found)")
        #expect(found.first.map { [$0.code, $0.severity.rawValue] } == [code, severity.rawValue])
        #expect(found.first.map { [$0.line, $0.column] } == [line, column])
        #expect(found.first.map { !$0.message.isEmpty } == true)
    }

    @Test("R7.2: accounts within the model's count are fine; W52P and W56P share y000000000025.cfg")
    func accountsWithinRange() {
        #expect(codes("y000000000025.cfg", "#!version:1.0.0.1\naccount.5.enable = 1\n") == [])
        #expect(codes("y000000000025.cfg", "#!version:1.0.0.1\naccount.6.enable = 1\n") == ["account-out-of-range"])
        #expect(codes("y000000000053.cfg", "#!version:1.0.0.1\naccount.2.enable = 1\n") == ["account-out-of-range"])
    }

    @Test("the same key in two model sections is not a duplicate")
    func sectionsAreScopes() {
        #expect(codes("a.cfg", "#!version:1.0.0.1\n[T46G]\na = 1\n[T23G]\na = 2\n") == [])
    }

    @Test("an encrypted file is recognised and not read as text")
    func encrypted() {
        var generator = SeededGenerator(seed: 7)
        let bytes = (0..<800).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let found = Linter().lint(path: "test.cfg", bytes: bytes)
        #expect(found.map(\.code) == ["encrypted-file"])
    }

    @Test("findings come in line order")
    func ordered() {
        let found = findings("a.cfg", "x = 1\nbad line\n#!version:1.0.0.1\n")
        #expect(found.map(\.line) == found.map(\.line).sorted())
        #expect(found.map(\.code) == ["missing-header", "invalid-line"])
    }
}
