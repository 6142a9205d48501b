@testable import ProvisioningCore
import Testing

@Suite("CFG file format (R1)", .timeLimit(.minutes(2)))
struct ConfigFileTests {
    /// The Guide's `settings.cfg` ("Creating a New CFG File").
    static let settingsCFG = """
        #!version:1.0.0.1
        phone_setting.phone_lock.enable = 1
        phone_setting.phone_lock.lock_key_type = 0
        features.dnd_mode = 1
        static.lang.wui = English
        static.lang.gui = English

        """

    @Test("R1.1: the header must be exactly the first line; trailing spaces and CR are tolerated", arguments: [
        ("#!version:1.0.0.1\nkey = 1\n", true), ("#!version:1.0.0.1   \r\nkey = 1\r\n", true),
        ("#!version:1.0.0.1\t\n", true), ("\n#!version:1.0.0.1\n", false), (" #!version:1.0.0.1\n", false),
        ("#!version:1.0.0.2\n", false), ("#!Version:1.0.0.1\n", false), ("#version:1.0.0.1\n", false),
        ("key = 1\n", false), ("", false), ("#!version:1.0.0.1 x\n", false),
    ])
    func header(text: String, valid: Bool) {
        #expect(ConfigFile(text: text).hasHeader == valid)
    }

    @Test("R1.1: the header is not a comment; a later header line is")
    func headerIsNotComment() {
        let file = ConfigFile(text: "#!version:1.0.0.1\n#!version:1.0.0.1\n")
        #expect(file.lines.map(\.kind) == [.header, .comment])
    }

    @Test("R1.2: lines whose first non-blank character is # are comments", arguments: [
        "# comment", "   # indented", "\t#tab", "#key = value", "## The header above must appear as-is",
    ])
    func comments(line: String) {
        #expect(ConfigFile(text: "#!version:1.0.0.1\n" + line + "\n").lines[1].kind == .comment)
    }

    @Test("R1.3: settings split at the first '=', trimmed of spaces and tabs", arguments: [
        ("account.1.label = abc", "account.1.label", "abc"),
        ("account.1.label=abc", "account.1.label", "abc"),
        ("\taccount.1.label\t=\tabc\t", "account.1.label", "abc"),
        ("account.1.label =", "account.1.label", ""),
        ("account.1.label = ", "account.1.label", ""),
        ("x.url = http://h/p?a=1&b=2", "x.url", "http://h/p?a=1&b=2"),
        ("x = a = b", "x", "a = b"),
        ("x = two  words ", "x", "two  words"),
    ])
    func settings(line: String, key: String, value: String) throws {
        let file = ConfigFile(text: "#!version:1.0.0.1\n" + line + "\n")
        let setting = try #require(file.settings.first?.setting)
        #expect(setting.key == key)
        #expect(setting.value == value)
    }

    @Test("R1.3: value and key columns point at the text")
    func columns() throws {
        let setting = try #require(ConfigFile(text: "#!version:1.0.0.1\n  a.b  =  xyz\n").settings.first?.setting)
        #expect(setting.keyColumn == 3)
        #expect(setting.valueColumn == 11)
    }

    @Test("R1.3: other non-blank lines are invalid and carry no setting", arguments: [
        ("just words", LineProblem.notASetting), ("= value", .emptyKey),
        ("features.dnd mode = 0", .keyHasWhitespace("features.dnd mode")), ("//comment", .notASetting),
    ])
    func invalid(line: String, problem: LineProblem) {
        let file = ConfigFile(text: "#!version:1.0.0.1\n" + line + "\n")
        #expect(file.lines[1].kind == .invalid(problem))
        #expect(file.settings.isEmpty)
    }

    @Test("R1.4: LF and CRLF, a BOM before the header is stripped and remembered")
    func encoding() {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        let file = ConfigFile(bytes: bom + Array("#!version:1.0.0.1\r\na = 1\nb = 2".utf8))
        #expect(file.hasByteOrderMark)
        #expect(file.hasHeader)
        #expect(file.lines.map(\.terminator) == [.crlf, .lf, .none])
        #expect(file.settings.map(\.setting.value) == ["1", "2"])
    }

    @Test("R1.4: bytes that are not UTF-8 make an invalid line, not a crash")
    func notUTF8() {
        let file = ConfigFile(bytes: Array("#!version:1.0.0.1\nlabel = ".utf8) + [0x93, 0x61, 0x94, 0x0A])
        #expect(file.lines[1].kind == .invalid(.notUTF8))
    }

    @Test("R1.5: duplicates are kept in order; the later one is last")
    func duplicates() {
        let file = ConfigFile(text: "#!version:1.0.0.1\na = 1\na = 2\n")
        #expect(file.settings.map(\.setting.value) == ["1", "2"])
    }

    @Test("R1.6: static settings are those starting with 'static.'")
    func staticSettings() throws {
        let file = ConfigFile(text: Self.settingsCFG)
        #expect(file.settings.filter(\.setting.isStatic).map(\.setting.key) == ["static.lang.wui", "static.lang.gui"])
    }

    @Test("R1.7: model sections restrict the settings below them")
    func modelSections() {
        let file = ConfigFile(text: "#!version:1.0.0.1\na = 1\n[T46S, T23G]\nb = 2\n[ T54W ]\nc = 3\n")
        #expect(file.lines[2].kind == .modelSection(["T46S", "T23G"]))
        #expect(file.settings.map(\.section) == [nil, ["T46S", "T23G"], ["T54W"]])
    }

    @Test("round trip: an unmodified file serializes to the same bytes", arguments: [
        settingsCFG, "#!version:1.0.0.1\r\na = 1\r\n# c\r\n\r\nb =\r\n", "no header\nx", "", "\n\n",
        "#!version:1.0.0.1\ninclude:config <a.cfg>\n[T46G]\nz = “quoted”\n\tjunk line\n",
    ])
    func roundTrip(text: String) {
        #expect(ConfigFile(text: text).serialized() == Array(text.utf8))
    }

    @Test("round trip with a BOM")
    func roundTripBOM() {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("#!version:1.0.0.1\na = 1\n".utf8)
        #expect(ConfigFile(bytes: bytes).serialized() == bytes)
    }

    @Test("property: random bytes never crash the parser and UTF-8 text round-trips")
    func randomBytes() {
        var generator = SeededGenerator(seed: 0x5EED)
        let alphabet = Array("#!=<>\"“” \t\r\n.[],abcXYZ019:version_include:config".utf8)
        for round in 0..<3000 {
            let length = Int.random(in: 0..<200, using: &generator)
            let bytes: [UInt8] = (0..<length).map { _ in
                round.isMultiple(of: 2) ? UInt8.random(in: 0...255, using: &generator)
                    : alphabet.randomElement(using: &generator)!
            }
            let file = ConfigFile(bytes: bytes)
            _ = BootFile(file).includes
            _ = ActivationCodes.parse(file)
            _ = Linter().lint(path: "y000000000000.boot", bytes: bytes)
            if String(validating: bytes, as: UTF8.self) != nil {
                #expect(file.serialized() == bytes)
            }
        }
    }
}

/// A reproducible random number generator (SplitMix64) for property tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    /// Prints the seed, so that a failure on random input can be repeated.
    init(seed: UInt64, function: String = #function) {
        state = seed
        print("\(function): random input from seed \(seed)")
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
