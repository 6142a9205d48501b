import Foundation
@testable import ProvisioningCore
import Testing

@Suite("AES keys and compatibility-mode encryption (R6)", .timeLimit(.minutes(2)))
struct EncryptionTests {
    static func fixture(_ name: String) throws -> [UInt8] {
        let url = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/" + name)
        return Array(try Data(contentsOf: url))
    }

    @Test("R6.1: 16 or 32 characters from the allowed set", arguments: [
        "ljB7jiDIQQ7XD888", "EKs35XacP6eybA25", "#$%*+,-.:=?@[]^_", "{}~0123456789abc",
        "0123456789abcdefABCDEFGHIJKLMNOP",
    ])
    func validKeys(key: String) throws {
        #expect(try AESKey(key).text == key)
    }

    @Test("R6.1: other lengths and characters are refused", arguments: [
        ("short", AESKeyError.Reason.length(5)), ("0123456789abcdef0", .length(17)), ("", .length(0)),
        ("0123456789abcde!", .character("!", offset: 15)), ("0123456789 bcdef", .character(" ", offset: 10)),
        ("0123456789abcdé0", .character("é", offset: 14)), ("01234567/9abcdef", .character("/", offset: 8)),
    ])
    func invalidKeys(key: String, reason: AESKeyError.Reason) {
        #expect(throws: AESKeyError(key: key, reason: reason)) { try AESKey(key) }
    }

    @Test("R6.1: generated keys are valid, use the whole alphabet, and do not repeat")
    func generatedKeys() throws {
        var seen = Set<String>()
        var characters = Set<Character>()
        for length in [16, 32] {
            for _ in 0..<500 {
                let key = AESKey.generate(length: length)
                #expect(key.text.count == length)
                #expect(AESKey.problem(in: key.text) == nil)
                seen.insert(key.text)
                characters.formUnion(key.text)
            }
        }
        #expect(seen.count == 1000)
        #expect(characters == Set(AESKey.alphabet))
        #expect(AESKey.alphabet.count == 62 + AESKey.allowedSymbols.count)
    }

    @Test("R6.3: decrypting a whole file checks the result: plain text in, wrong key, or the fixture out")
    func decryptFile() throws {
        let key = try AESKey("ljB7jiDIQQ7XD888")
        let plaintext = try CompatibilityEncryption.decryptFile(try Self.fixture("test.cfg"), key: key)
        #expect(plaintext.count == 796)
        #expect(CompatibilityEncryption.looksPlain(plaintext))
        #expect(throws: EncryptionError.wrongKey) {
            try CompatibilityEncryption.decryptFile(try Self.fixture("test.cfg"), key: try AESKey("EKs35XacP6eybA25"))
        }
        #expect(throws: EncryptionError.notEncrypted) {
            try CompatibilityEncryption.decryptFile(Array("#!version:1.0.0.1\na = 1\n".utf8), key: key)
        }
        #expect(CompatibilityEncryption.looksPlain(Array("\u{FEFF}\r\n#!version:1.0.0.1".utf8)))
        #expect(CompatibilityEncryption.looksPlain(Array("<?xml version=\"1.0\"?>".utf8)))
        #expect(CompatibilityEncryption.looksPlain(Array("[ account ]\r\npath=/yealink/config".utf8)))
        #expect(!CompatibilityEncryption.looksPlain([0x23, 0x21, 0x00, 0x41]))
        #expect(!CompatibilityEncryption.looksPlain([0xC3, 0x28, 0x41, 0x41, 0x41, 0x41]))  // not UTF-8
        #expect(!CompatibilityEncryption.looksPlain(try Self.fixture("test.cfg")))
        #expect(!CompatibilityEncryption.looksPlain([]))
    }

    @Test("R6.3: the fixture's _Security.enc unwraps to ljB7jiDIQQ7XD888 and wraps back")
    func securityFile() throws {
        let wrapped = try Self.fixture("test_Security.enc")
        let key = try CompatibilityEncryption.key(fromSecurityFile: wrapped)
        #expect(key.text == "ljB7jiDIQQ7XD888")
        #expect(CompatibilityEncryption.securityFile(for: key) == wrapped)
    }

    @Test("R6.3: the fixture decrypts to its 800-byte plaintext and re-encrypts to the same bytes")
    func fixtureRoundTrip() throws {
        let ciphertext = try Self.fixture("test.cfg")
        let key = try AESKey("ljB7jiDIQQ7XD888")
        let plaintext = try CompatibilityEncryption.decrypt(ciphertext, key: key)
        #expect(plaintext.count == 800)
        #expect(plaintext.starts(with: Array("[ account ]\r\npat".utf8)))
        #expect(plaintext.suffix(16) == Array("usCall = 0\r\n    ".utf8))
        #expect(CompatibilityEncryption.encrypt(plaintext, key: key) == ciphertext)
        let unpadded = CompatibilityEncryption.removingPadding(plaintext)
        #expect(unpadded.count == 796)
        #expect(CompatibilityEncryption.encrypt(unpadded, key: key) == ciphertext)
    }

    static let paddings: [[UInt8]] = [[0x20, 0x20, 0x20], [0, 0], [3, 3, 3], [], [0x20, 0]]

    @Test("R6.3: padding removal accepts spaces, NULs and PKCS#7", arguments: paddings)
    func padding(padding: [UInt8]) {
        let plain: [UInt8] = Array("abc".utf8)
        #expect(CompatibilityEncryption.removingPadding(plain + padding) == plain)
    }

    @Test("R6.3: a wrong key, a truncated file and a file that is not whole blocks are clear errors")
    func errors() throws {
        let ciphertext = try Self.fixture("test.cfg")
        #expect(throws: EncryptionError.notWholeBlocks(byteCount: 799)) {
            try CompatibilityEncryption.decrypt(Array(ciphertext.dropLast()), key: try AESKey("ljB7jiDIQQ7XD888"))
        }
        #expect(throws: EncryptionError.notWholeBlocks(byteCount: 0)) {
            try CompatibilityEncryption.decrypt([], key: try AESKey("ljB7jiDIQQ7XD888"))
        }
        #expect(throws: EncryptionError.wrongKey) {
            try CompatibilityEncryption.key(fromSecurityFile: Array(ciphertext.prefix(16)))
        }
        let wrong = try CompatibilityEncryption.decrypt(ciphertext, key: try AESKey("0000000000000000"))
        #expect(!wrong.starts(with: Array("[ account ]".utf8)))
    }

    @Test("R6.3: 32-character keys use AES-256 and round-trip")
    func longKey() throws {
        let key = try AESKey("0123456789abcdefABCDEFGHIJKLMNOP")
        let text = Array("#!version:1.0.0.1\naccount.1.password = secret\n".utf8)
        let encrypted = CompatibilityEncryption.encrypt(text, key: key)
        #expect(encrypted.count == 48)
        #expect(CompatibilityEncryption.removingPadding(try CompatibilityEncryption.decrypt(encrypted, key: key)) == text)
        #expect(try CompatibilityEncryption.key(fromSecurityFile: CompatibilityEncryption.securityFile(for: key)) == key)
    }
}

@Suite("Key selection (R6.2)", .timeLimit(.minutes(2)))
struct KeySelectionTests {
    static let settings = [
        "static.auto_provision.aes_key_16.com": "commonkey0123456",
        "static.auto_provision.aes_key.mac": "mackey0123456789",
    ]

    @Test("R6.2: the common key for the common CFG file, the MAC key for <mac>.cfg and <mac>-local.cfg", arguments: [
        (FileRole.commonConfig, "commonkey0123456"), (.include, "commonkey0123456"),
        (.macConfig, "mackey0123456789"), (.macLocal, "mackey0123456789"),
    ])
    func selection(role: FileRole, key: String) {
        #expect(ConfigurationKeySelection.key(for: role, settings: Self.settings)?.text == key)
    }

    @Test("R6.2: aes_key_16.* is preferred to its alias aes_key.*; invalid or blank keys are not used")
    func aliases() {
        let both = ["static.auto_provision.aes_key_16.mac": "first0123456789a",
                    "static.auto_provision.aes_key.mac": "second0123456789"]
        #expect(ConfigurationKeySelection.key(for: .macConfig, settings: both)?.text == "first0123456789a")
        let blank = ["static.auto_provision.aes_key_16.mac": "", "static.auto_provision.aes_key.mac": "bad"]
        #expect(ConfigurationKeySelection.key(for: .macConfig, settings: blank) == nil)
    }
}
