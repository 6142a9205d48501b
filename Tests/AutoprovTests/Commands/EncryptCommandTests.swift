import Foundation
import Testing
import TestSupport

@Suite("autoprov encrypt and decrypt, compatible with Yealink's tool (R6.3)", .blocking, .timeLimit(.minutes(5)))
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
        let bare = try CommandRunner.run(["encrypt", tree.file("plain/test.cfg").path, "--key", "ljB7jiDIQQ7XD888",
                                          "--no-security-file", "--out", tree.file("bare").path])
        #expect(bare.status == 0)
        #expect(try Data(contentsOf: tree.file("bare/test.cfg")) == Data(contentsOf: tree.file("test.cfg")))
        #expect(!FileManager.default.fileExists(atPath: tree.file("bare/test_Security.enc").path))
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

    @Test("lint and resolve read encrypted files with --common-key, or the _Security.enc beside them")
    func lintAndResolve() throws {
        let tree = try FixtureTree("yealink-encryption-vector")
        let plain = tree.file("plain"), encrypted = tree.file("encrypted")
        try FileManager.default.createDirectory(at: plain, withIntermediateDirectories: true)
        let common = "#!version:1.0.0.1\nstatic.auto_provision.repeat.enable = 1\naccount.1.label = Desk\nbroken line\n"
        try common.write(to: plain.appendingPathComponent("y000000000028.cfg"), atomically: true, encoding: .utf8)
        #expect(try CommandRunner.run(["encrypt", plain.appendingPathComponent("y000000000028.cfg").path,
                                       "--key", "Kc0mm0n.Key-16ch", "--out", encrypted.path]).status == 0)

        let findings = { (result: CommandRunner.Result) in
            result.stdout.split(separator: "\n").map { $0.split(separator: ":", maxSplits: 1).last.map(String.init) ?? "" }
        }
        let plainLint = try CommandRunner.run(["lint", plain.path])
        #expect(!plainLint.stdout.isEmpty)
        let withKey = try CommandRunner.run(["lint", encrypted.path, "--common-key", "Kc0mm0n.Key-16ch"])
        #expect(findings(withKey) == findings(plainLint), "\(withKey.stdout)\(withKey.stderr)")
        let beside = try CommandRunner.run(["lint", encrypted.path])
        #expect(findings(beside) == findings(plainLint), "\(beside.stderr)")

        let resolve = ["resolve", "--mac", "00:15:65:74:B1:50", "--model", "T46G", "--root"]
        let plainResolve = try CommandRunner.run(resolve + [plain.path])
        #expect(plainResolve.stdout.contains("account.1.label = Desk"), "\(plainResolve.stdout)\(plainResolve.stderr)")
        #expect(try CommandRunner.run(resolve + [encrypted.path]).stdout == plainResolve.stdout)
        #expect(try CommandRunner.run(resolve + [encrypted.path, "--common-key", "Kc0mm0n.Key-16ch"]).stdout
            == plainResolve.stdout)
        #expect(try CommandRunner.run(resolve + [encrypted.path, "--common-key", "0123456789abcdef"]).stdout
            != plainResolve.stdout)

        try FileManager.default.removeItem(at: encrypted.appendingPathComponent("y000000000028_Security.enc"))
        let noKey = try CommandRunner.run(["lint", encrypted.path])
        #expect(noKey.status == 2)
        #expect(noKey.stderr.contains("y000000000028.cfg: encrypted; give --common-key, or put y000000000028_Security.enc beside it"))
    }

    @Test("RSA mode: #!encrypt:1.0.0.0 text that openssl decrypts (PKCS#1 v1.5 key, AES-256-ECB data), and back")
    func rsaMode() throws {
        let tree = try FixtureTree("yealink-encryption-vector")
        let privatePEM = tree.file("private.pem").path, publicPEM = tree.file("public.pem").path
        #expect(try Client.run("openssl", ["genrsa", "-out", privatePEM, "2048"]).status == 0)
        #expect(try Client.run("openssl", ["rsa", "-in", privatePEM, "-pubout", "-out", publicPEM]).status == 0)
        let plaintext = "#!version:1.0.0.1\naccount.1.password = s3cret\n"
        try FileManager.default.createDirectory(at: tree.file("in"), withIntermediateDirectories: true)
        try plaintext.write(to: tree.file("in/account.cfg"), atomically: true, encoding: .utf8)
        let run = try CommandRunner.run(["encrypt", tree.file("in/account.cfg").path, "--generate", "--rsa-public-key",
                                         publicPEM, "--out", tree.file("out").path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: tree.file("out/account_Security.enc").path))
        let text = try String(contentsOf: tree.file("out/account.cfg"), encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(Array(lines.prefix(3)) == ["#!encrypt:1.0.0.0", "#!key_signatue:RSA_256", "#!conf_encryption:AES_256"])
        #expect(lines.count == 7 && lines[4] == "#!---BEGIN CONFIG DATA---" && lines[6] == "#!---END CONFIG DATA---")

        // openssl, step by step: the RSA-wrapped key, then the data.
        let wrapped = try #require(Data(base64Encoded: String(lines[3].dropFirst("#!key_ciphertext:".count))))
        try wrapped.write(to: tree.file("wrapped.bin"))
        let key = try Client.run("openssl", ["pkeyutl", "-decrypt", "-inkey", privatePEM, "-pkeyopt",
                                             "rsa_padding_mode:pkcs1", "-in", tree.file("wrapped.bin").path]).stdout
        #expect(key.count == 32)
        #expect(try String(contentsOf: tree.file("out/Aeskey.txt"), encoding: .utf8) == "account.cfg \(key)\n")
        try #require(Data(base64Encoded: lines[5])).write(to: tree.file("data.bin"))
        let hex = key.utf8.map { String(format: "%02x", $0) }.joined()
        let decrypted = try Client.run("openssl", ["enc", "-d", "-aes-256-ecb", "-K", hex, "-in", tree.file("data.bin").path])
        #expect(decrypted.stdout == plaintext)  // openssl removed the PKCS#7 padding

        let back = try CommandRunner.run(["decrypt", tree.file("out/account.cfg").path, "--rsa-private-key", privatePEM,
                                          "--out", tree.file("back").path])
        #expect(back.status == 0, "\(back.stderr)")
        #expect(try String(contentsOf: tree.file("back/account.cfg"), encoding: .utf8) == plaintext)
        let noKey = try CommandRunner.run(["decrypt", tree.file("out/account.cfg").path, "--out", tree.file("back2").path])
        #expect(noKey.status == 1)
        #expect(noKey.stderr.contains("give --rsa-private-key"))
        #expect(try CommandRunner.run(["encrypt", tree.file("out/account.cfg").path, "--generate", "--out",
                                       tree.file("again").path]).status == 2)  // already encrypted
    }
}
