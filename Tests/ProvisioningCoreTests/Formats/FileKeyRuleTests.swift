import ProvisioningCore
import Testing

/// R6.2 and R6.3 in one place: the key each file takes, and the name of the file that carries it.
@Suite("File keys (R6.2) and _Security.enc names (R6.3)", .timeLimit(.minutes(2)))
struct FileKeyRuleTests {
    static let mac = try! MACAddress("00:15:65:74:b1:50")

    @Test("<mac>.cfg and <mac>-local.cfg take the device's key, other CFG files the common key, boot files none",
          arguments: [
              ("00156574b150.cfg", FileKeyChoice?.some(.device(mac))), ("00156574b150-local.cfg", .device(mac)),
              ("y000000000028.cfg", .common), ("account.cfg", .common), ("y000000000000.boot", nil),
              ("00156574b150.boot", nil), ("other.boot", nil),
          ])
    func keys(_ name: String, _ expected: FileKeyChoice?) {
        #expect(ProvisioningFileName(name).kind.encryptionKey == expected)
    }

    @Test("<name>.cfg ↔ <name>_Security.enc", arguments: [
        ("account.cfg", "account_Security.enc"), ("y000000000028.cfg", "y000000000028_Security.enc"),
        ("a.b.cfg", "a.b_Security.enc"),
    ])
    func securityFileNames(_ file: String, _ security: String) {
        #expect(SecurityFile.name(for: file) == security)
        #expect(SecurityFile.securedFileName(for: security) == file)
    }

    @Test("names that are not security files stand for nothing")
    func notSecurityFiles() {
        #expect(SecurityFile.securedFileName(for: "_Security.enc") == nil)
        #expect(SecurityFile.securedFileName(for: "account.cfg") == nil)
        #expect(SecurityFile.securedFileName(for: "account_security.enc") == nil)
    }
}
