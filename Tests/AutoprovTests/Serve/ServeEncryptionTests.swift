import Foundation
import Testing
import TestSupport

@Suite("Serving with [encryption]: files encrypted on the fly, checked with openssl (R6.2, R6.3)", .blocking, .serialized, .timeLimit(.minutes(5)))
struct ServeEncryptionTests {
    static let common = "#!version:1.0.0.1\nstatic.auto_provision.repeat.enable = 1\n"   // 57 bytes
    static let device = "#!version:1.0.0.1\naccount.1.password = s3cret\n"              // 46 bytes
    static let commonKey = "Kc0mm0n.Key-16ch"
    static let deviceKey = "D3v1ceKey{32}characters_long_key"

    static func hex(_ key: String) -> String { key.utf8.map { String(format: "%02x", $0) }.joined() }

    /// `openssl enc -d -nopad`: an AES implementation that is not ours.
    static func openssl(_ bytes: Data, key: String) throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-enc-\(UUID().uuidString)")
        try bytes.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let cipher = key.count == 32 ? "-aes-256-ecb" : "-aes-128-ecb"
        return try Client.run("openssl", ["enc", "-d", cipher, "-nopad", "-K", hex(key), "-in", file.path]).stdout
    }

    static func padded(_ text: String) -> String {
        text + String(repeating: " ", count: (16 - text.utf8.count % 16) % 16)
    }

    static func server(extraFiles: [String: String] = [:]) throws -> (ServerProcess, URL) {
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-keys-\(UUID().uuidString)")
        try "# mac,key\n00:15:65:74:B1:50,\(deviceKey)\n".write(to: keys, atomically: true, encoding: .utf8)
        let server = try ServerProcess(files: [
            "y000000000028.cfg": common, "00156574b150.cfg": device, "001565000099.cfg": device,
            "y000000000000.boot": "#!version:1.0.0.1\ninclude:config <y000000000028.cfg>\n",
        ].merging(extraFiles) { $1 }, configuration: """
            [ftp]
            anonymous = true
            [encryption]
            common_key = "\(commonKey)"
            keys = "\(keys.path)"
            """)
        return (server, keys)
    }

    static func getBytes(_ url: String, to file: URL) throws -> Data {
        let result = try Client.run("curl", ["-sf", "-o", file.path, url])
        #expect(result.status == 0, "\(url): curl exit \(result.status)")
        return try Data(contentsOf: file)
    }

    @Test("HTTP and TFTP: the common file under the common key, <mac>.cfg under its own; openssl gets the plaintext back")
    func encryptedOnTheFly() throws {
        let (server, keys) = try Self.server()
        defer { try? FileManager.default.removeItem(at: keys) }
        let scratch = server.directory.appendingPathComponent("got")
        let commonHTTP = try Self.getBytes("\(server.http)/y000000000028.cfg", to: scratch)
        #expect(commonHTTP.count == 64)
        #expect(try Self.openssl(commonHTTP, key: Self.commonKey) == Self.padded(Self.common))
        let commonTFTP = try Self.getBytes("\(server.tftp)/y000000000028.cfg", to: scratch)
        #expect(commonTFTP == commonHTTP)  // deterministic: the same bytes on every protocol
        // FTP: curl checks the SIZE it was told against what RETR sends.
        let commonFTP = try Self.getBytes("ftp://\(server.ftpHostPort)/y000000000028.cfg", to: scratch)
        #expect(commonFTP == commonHTTP)
        let size = try Client.run("curl", ["-sI", "ftp://\(server.ftpHostPort)/y000000000028.cfg"]).stdout
        #expect(size.contains("Content-Length: 64"), "\(size)")
        let deviceTFTP = try Self.getBytes("\(server.tftp)/00156574b150.cfg", to: scratch)
        #expect(try Self.openssl(deviceTFTP, key: Self.deviceKey) == Self.padded(Self.device))
        // A device without a key, and the boot file, go out as they are.
        #expect(try Self.getBytes("\(server.http)/001565000099.cfg", to: scratch) == Data(Self.device.utf8))
        #expect(try String(decoding: Self.getBytes("\(server.http)/y000000000000.boot", to: scratch), as: UTF8.self)
            .hasPrefix("#!version:"))
    }

    @Test("<name>_Security.enc holds the wrapped key of the file it stands for; ETags stay the same")
    func securityFilesAndETags() throws {
        let (server, keys) = try Self.server()
        defer { try? FileManager.default.removeItem(at: keys) }
        let scratch = server.directory.appendingPathComponent("got")
        let wrapped = try Self.getBytes("\(server.http)/y000000000028_Security.enc", to: scratch)
        #expect(wrapped.count == 16)
        #expect(try Self.openssl(wrapped, key: "EKs35XacP6eybA25") == Self.commonKey)
        let deviceWrapped = try Self.getBytes("\(server.tftp)/00156574b150_Security.enc", to: scratch)
        #expect(try Self.openssl(deviceWrapped, key: "EKs35XacP6eybA25") == Self.deviceKey)
        // No key for this device, and no such file: no _Security.enc either.
        #expect(try Client.curl(["\(server.http)/001565000099_Security.enc"]).status == 404)
        #expect(try Client.curl(["\(server.http)/nothing_Security.enc"]).status == 404)
        let first = try Client.run("curl", ["-s", "-D", "-", "-o", "/dev/null", "\(server.http)/y000000000028.cfg"]).stdout
        let second = try Client.run("curl", ["-s", "-D", "-", "-o", "/dev/null", "\(server.http)/y000000000028.cfg"]).stdout
        let etag = { (head: String) in head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") } }
        #expect(etag(first) != nil && etag(first) == etag(second))
    }

    @Test("a file already encrypted on disk is served as it is, not encrypted twice")
    func alreadyEncrypted() throws {
        let tree = try FixtureTree("yealink-encryption-vector")
        let encrypted = try Data(contentsOf: tree.file("test.cfg"))
        let (server, keys) = try Self.server()
        defer { try? FileManager.default.removeItem(at: keys) }
        try server.writeBytes("account.cfg", encrypted)
        let scratch = server.directory.appendingPathComponent("got")
        #expect(try Self.getBytes("\(server.http)/account.cfg", to: scratch) == encrypted)
        // An RSA-mode file is text, but encrypted: it goes out as it is too.
        let rsa = "#!encrypt:1.0.0.0\n#!key_signatue:RSA_256\n#!conf_encryption:AES_256\n#!key_ciphertext:AAAA\n"
        try server.write("rsa.cfg", rsa)
        #expect(try String(decoding: Self.getBytes("\(server.http)/rsa.cfg", to: scratch), as: UTF8.self) == rsa)
        // Their keys are not the configured one: no _Security.enc is made up for them (R6.3), on any protocol, so a
        // phone is never handed a key that cannot decrypt its file.
        for name in ["account_Security.enc", "rsa_Security.enc"] {
            #expect(try server.read(name, over: .http) == .refused(404), "\(name)")
            #expect(try server.read(name, over: .tftp) == .refused(1), "\(name)")
        }
        // Beside a plain file the key file is still answered.
        try server.write("plain.cfg", "#!version:1.0.0.1\nplain = 1\n")
        #expect(try Self.getBytes("\(server.http)/plain_Security.enc", to: scratch).count == 16)
    }

    @Test("a bad key or keys file stops the server with the file, line and problem")
    func badConfiguration() throws {
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-keys-\(UUID().uuidString)")
        try "00:15:65:74:B1:50,\(Self.deviceKey)\nnot-a-mac,0123456789abcdef\n".write(to: keys, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: keys) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-badenc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (configuration, message) in [("[encryption]\nkeys = \"\(keys.path)\"\n", "\(keys.path):2:"),
                                         ("[encryption]\ncommon_key = \"short\"\n", "encryption.common_key")] {
            let file = directory.appendingPathComponent("c.toml")
            try configuration.write(to: file, atomically: true, encoding: .utf8)
            let result = try CommandRunner.run(["serve", "--admin", "off", "--config", file.path, "--root", directory.appendingPathComponent("r").path,
                                                "--data", directory.appendingPathComponent("d").path, "--tftp", "off",
                                                "--https", "off", "--ftp", "off", "--pnp", "off", "--http", "127.0.0.1:0"])
            #expect(result.status != 0)
            #expect(result.stderr.contains(message), "\(result.stderr)")
        }
    }

    @Test("a phone's encrypted <mac>-local.cfg is stored as sent, and decrypt --keys shows it with the device's key")
    func encryptedUpload() throws {
        let (server, keys) = try Self.server()
        defer { try? FileManager.default.removeItem(at: keys) }
        let local = "#!version:1.0.0.1\naccount.1.label = Changed on the phone\n"
        // What the phone would send: its -local.cfg encrypted under the MAC key.
        let plainFile = server.directory.appendingPathComponent("plain/00156574b150-local.cfg")
        try FileManager.default.createDirectory(at: plainFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        try local.write(to: plainFile, atomically: true, encoding: .utf8)
        #expect(try CommandRunner.run(["encrypt", plainFile.path, "--key", Self.deviceKey, "--out",
                                       server.directory.appendingPathComponent("sent").path]).status == 0)
        let sent = server.directory.appendingPathComponent("sent/00156574b150-local.cfg")
        let put = try Client.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-T", sent.path,
                                          "\(server.http)/00156574b150-local.cfg"])
        #expect(["201", "204"].contains(put.stdout), "\(put.stdout)")
        let scratch = server.directory.appendingPathComponent("got")
        #expect(try Self.getBytes("\(server.http)/00156574b150-local.cfg", to: scratch) == Data(contentsOf: sent))
        let stored = server.data.appendingPathComponent("uploads/00156574b150-local.cfg")
        #expect(try Data(contentsOf: stored) == Data(contentsOf: sent))
        let shown = try CommandRunner.run(["decrypt", stored.path, "--keys", keys.path,
                                           "--out", server.directory.appendingPathComponent("shown").path])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(try String(contentsOf: server.directory.appendingPathComponent("shown/00156574b150-local.cfg"),
                           encoding: .utf8) == local)
    }
}
