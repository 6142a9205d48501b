import Foundation
import Testing

@Suite("autoprov encrypt and decrypt, compatible with Yealink's tool (R6.3)")
struct EncryptCommandTests {
    @Test("the fixture: decrypted with the _Security.enc beside it, and re-encrypted to exactly its bytes")
    func fixture() throws {
        let tree = try FixtureTree("yealink-encryption-vector")
        let plain = tree.file("plain").path, again = tree.file("again").path
        let decrypted = try CommandRunner.run(["decrypt", tree.file("test.cfg").path, "--out", plain])
        #expect(decrypted.status == 0, "\(decrypted.stderr)")
        let text = try Data(contentsOf: tree.file("plain/test.cfg"))
        #expect(text.count == 796)
        #expect(text.starts(with: Array("[ account ]".utf8)))  // a 2013 file, before #!version:
        let encrypted = try CommandRunner.run(["encrypt", tree.file("plain/test.cfg").path, "--key", "ljB7jiDIQQ7XD888",
                                               "--out", again])
        #expect(encrypted.status == 0, "\(encrypted.stderr)")
        #expect(try Data(contentsOf: tree.file("again/test.cfg")) == Data(contentsOf: tree.file("test.cfg")))
        #expect(try Data(contentsOf: tree.file("again/test_Security.enc")) == Data(contentsOf: tree.file("test_Security.enc")))
        #expect(try String(contentsOf: tree.file("again/Aeskey.txt"), encoding: .utf8) == "test.cfg ljB7jiDIQQ7XD888\n")
    }

    @Test("openssl (an outside AES) decrypts what encrypt writes, and unwraps the key from _Security.enc")
    func openssl() throws {
        let tree = try FixtureTree("yealink-encryption-vector")
        let plaintext = "#!version:1.0.0.1\naccount.1.password = s3cret\n"  // 46 bytes: two spaces of padding
        try FileManager.default.createDirectory(at: tree.file("in"), withIntermediateDirectories: true)
        try plaintext.write(to: tree.file("in/account.cfg"), atomically: true, encoding: .utf8)
        let run = try CommandRunner.run(["encrypt", tree.file("in/account.cfg").path, "--generate", "--out",
                                         tree.file("out").path])
        #expect(run.status == 0, "\(run.stderr)")
        let listing = try String(contentsOf: tree.file("out/Aeskey.txt"), encoding: .utf8)
        let key = try #require(listing.split(separator: " ").last?.trimmingCharacters(in: .newlines))
        #expect(key.count == 16)
        let hex = key.utf8.map { String(format: "%02x", $0) }.joined()
        let decrypted = try Client.run("openssl", ["enc", "-d", "-aes-128-ecb", "-nopad", "-K", hex,
                                                   "-in", tree.file("out/account.cfg").path])
        #expect(decrypted.stdout == plaintext + "  ")
        let builtIn = "EKs35XacP6eybA25".utf8.map { String(format: "%02x", $0) }.joined()
        let unwrapped = try Client.run("openssl", ["enc", "-d", "-aes-128-ecb", "-nopad", "-K", builtIn,
                                                   "-in", tree.file("out/account_Security.enc").path])
        #expect(unwrapped.stdout == key)
        // And back, with the key from account_Security.enc.
        let back = try CommandRunner.run(["decrypt", tree.file("out/account.cfg").path, "--out", tree.file("back").path])
        #expect(back.status == 0, "\(back.stderr)")
        #expect(try String(contentsOf: tree.file("back/account.cfg"), encoding: .utf8) == plaintext)
    }

    @Test("not encrypted, wrong key, truncated, no key: each named with its file; the good ones still decrypted")
    func errors() throws {
        let tree = try FixtureTree("yealink-encryption-vector")
        let original = try Data(contentsOf: tree.file("test.cfg"))
        try FileManager.default.createDirectory(at: tree.file("bad"), withIntermediateDirectories: true)
        try original.dropLast(5).write(to: tree.file("bad/truncated.cfg"))
        try original.write(to: tree.file("bad/nokey.cfg"))
        try "#!version:1.0.0.1\n".write(to: tree.file("bad/plain.cfg"), atomically: true, encoding: .utf8)
        let run = try CommandRunner.run(["decrypt", tree.file("bad/truncated.cfg").path, tree.file("bad/nokey.cfg").path,
                                         tree.file("bad/plain.cfg").path, tree.file("test.cfg").path,
                                         "--out", tree.file("out").path])
        #expect(run.status == 1)
        #expect(run.stderr.contains("truncated.cfg: no key"))
        #expect(run.stderr.contains("nokey.cfg: no key: give --key, or put nokey_Security.enc beside it"))
        #expect(FileManager.default.fileExists(atPath: tree.file("out/test.cfg").path))
        let withKey = try CommandRunner.run(["decrypt", tree.file("bad/truncated.cfg").path, tree.file("bad/plain.cfg").path,
                                             tree.file("test.cfg").path, "--key", "EKs35XacP6eybA25",
                                             "--out", tree.file("out2").path])
        #expect(withKey.status == 1)
        #expect(withKey.stderr.contains("truncated.cfg: 795 bytes is not a whole number of 16-byte AES blocks"))
        #expect(withKey.stderr.contains("plain.cfg: the file is not encrypted"))
        #expect(withKey.stderr.contains("test.cfg: the key does not decrypt this data (wrong key)"))
        #expect(!FileManager.default.fileExists(atPath: tree.file("out2/test.cfg").path))
    }

    @Test("encrypt refuses bad keys, encrypted input and its own folder, and then writes nothing")
    func encryptRefusals() throws {
        let tree = try FixtureTree("yealink-encryption-vector")
        #expect(try CommandRunner.run(["encrypt", tree.file("test.cfg").path, "--key", "short"]).status != 0)
        #expect(try CommandRunner.run(["encrypt", tree.file("test.cfg").path]).status != 0)
        let encrypted = try CommandRunner.run(["encrypt", tree.file("test.cfg").path, "--generate",
                                               "--out", tree.file("out").path])
        #expect(encrypted.status == 2)
        #expect(encrypted.stderr.contains("not text; already encrypted?"))
        #expect(!FileManager.default.fileExists(atPath: tree.file("out").path))
        try "#!version:1.0.0.1\n".write(to: tree.file("p.cfg"), atomically: true, encoding: .utf8)
        let own = try CommandRunner.run(["encrypt", tree.file("p.cfg").path, "--generate", "--out", tree.path])
        #expect(own.status == 2)
        #expect(try String(contentsOf: tree.file("p.cfg"), encoding: .utf8) == "#!version:1.0.0.1\n")
    }
}
