import FileService
import ArgumentParser
import Foundation
import ProvisioningCore
import ProvisioningServer

/// `<name>_Security.enc` for a file (R6.3, ``SecurityFile``).
func securityFileName(for file: URL) -> String {
    SecurityFile.name(for: file.lastPathComponent)
}

struct Encrypt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encrypt configuration files as Yealink's Configuration Encryption Tool does (compatibility mode).",
        discussion: """
            Writes each file, AES-ECB encrypted under its own name, into --out, with <name>_Security.enc beside it \
            (the key wrapped in the key built into the phones, R6.3) and Aeskey.txt listing '<file> <key>'. \
            --generate makes a new key for each file with the system's secure generator. Files are space-padded \
            to whole 16-byte blocks, as Yealink's tool does. Nothing is written when any file or key is refused.
            """)

    @Argument(help: "Plain configuration files.")
    var files: [String]

    @Option(help: "The key: 16 or 32 characters from 0-9 A-Z a-z # $ % * + , - . : = ? @ [ ] ^ _ { } ~.")
    var key: String?

    @Flag(help: "A new 16-character key for each file.")
    var generate = false

    @Option(help: "Where the encrypted files go (not the folder of a plain file).")
    var out = "encrypted"

    @Flag(help: "Do not write <name>_Security.enc files.")
    var noSecurityFile = false

    @Option(name: .customLong("rsa-public-key"),
            help: "RSA mode: a PEM public key; files become #!encrypt:1.0.0.0 text (--generate makes 32-character keys).")
    var rsaPublicKey: String?

    func validate() throws {
        guard (key != nil) != generate else { throw ValidationError("give --key KEY or --generate") }
        if let key, let problem = AESKey.problem(in: key) { throw ValidationError("--key: \(problem)") }
    }

    func run() throws {
        try reportingFailures {
            let output = URL(fileURLWithPath: out).standardizedFileURL
            let publicKey = try rsaPublicKey.map { path in
                guard let pem = FileManager.default.contents(atPath: path) else {
                    throw UsageFailure("\(path): cannot read the RSA public key")
                }
                return String(decoding: pem, as: UTF8.self)
            }
            var plans: [(source: URL, plaintext: [UInt8], key: AESKey)] = []
            for path in files {
                let source = URL(fileURLWithPath: path).standardizedFileURL
                guard source.deletingLastPathComponent().path != output.path else {
                    throw UsageFailure("\(path): --out is this file's own folder; the plain file would be overwritten")
                }
                guard let data = FileManager.default.contents(atPath: source.path) else {
                    throw UsageFailure("\(path): cannot read the file")
                }
                let bytes = Array(data)
                guard CompatibilityEncryption.looksPlain(bytes), !RSAModeEncryption.isEncrypted(bytes) else {
                    throw UsageFailure("\(path): not text; already encrypted?")
                }
                plans.append((source, bytes, try key.map { try AESKey($0) } ?? AESKey.generate(length: publicKey == nil ? 16 : 32)))
            }
            try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
            var listing = ""
            for plan in plans {
                let name = plan.source.lastPathComponent
                let encrypted: [UInt8]
                if let publicKey {
                    do {
                        encrypted = try RSAModeEncryption.encrypt(plan.plaintext, key: plan.key, publicKeyPEM: publicKey)
                    } catch {
                        throw UsageFailure("\(rsaPublicKey ?? ""): \(error)")
                    }
                } else {
                    encrypted = CompatibilityEncryption.encrypt(plan.plaintext, key: plan.key)
                }
                try Data(encrypted).write(to: output.appendingPathComponent(name), options: .atomic)
                if !noSecurityFile, publicKey == nil {
                    try Data(CompatibilityEncryption.securityFile(for: plan.key))
                        .write(to: output.appendingPathComponent(securityFileName(for: plan.source)), options: .atomic)
                }
                listing += "\(name) \(plan.key.text)\n"
                emit("\(output.path)/\(name)\n")
            }
            try Data(listing.utf8).write(to: output.appendingPathComponent("Aeskey.txt"), options: .atomic)
        }
    }
}

struct Decrypt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decrypt configuration files encrypted in compatibility mode.",
        discussion: """
            Without --key, a <mac>.cfg or <mac>-local.cfg takes its device's key from --keys, and any other file \
            the key in the <name>_Security.enc beside it. A file that is not \
            encrypted, a wrong key, or a truncated file is reported by name; the other files are still decrypted, \
            and the exit status is 1.
            """)

    @Argument(help: "Encrypted configuration files.")
    var files: [String]

    @Option(help: "The key (else <name>_Security.enc beside each file).")
    var key: String?

    @Option(help: "Where the plain files go (not the folder of an encrypted file).")
    var out = "decrypted"

    @Option(name: .customLong("rsa-private-key"), help: "For RSA-mode (#!encrypt:1.0.0.0) files: the PEM private key.")
    var rsaPrivateKey: String?

    @Option(help: "Device keys, 'mac,key' lines (as [encryption] keys): <mac>.cfg and <mac>-local.cfg use their device's.")
    var keys: String?

    func validate() throws {
        if let key, let problem = AESKey.problem(in: key) { throw ValidationError("--key: \(problem)") }
    }

    func run() throws {
        var failed = false
        try reportingFailures {
            let deviceKeys: [String: AESKey]
            do {
                deviceKeys = try keys.map { try ServedEncryption(commonKey: "", keysFile: $0).deviceKeys } ?? [:]
            } catch {
                throw UsageFailure("\(error)")
            }
            let output = URL(fileURLWithPath: out).standardizedFileURL
            try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
            for path in files {
                let source = URL(fileURLWithPath: path).standardizedFileURL
                do {
                    guard source.deletingLastPathComponent().path != output.path else {
                        throw UsageFailure("--out is this file's own folder; the encrypted file would be overwritten")
                    }
                    guard let data = FileManager.default.contents(atPath: source.path) else {
                        throw UsageFailure("cannot read the file")
                    }
                    if RSAModeEncryption.isEncrypted(Array(data)) {
                        guard let rsaPrivateKey, let pem = FileManager.default.contents(atPath: rsaPrivateKey) else {
                            throw UsageFailure("an RSA-mode file: give --rsa-private-key with a readable PEM file")
                        }
                        let plaintext = try RSAModeEncryption.decrypt(Array(data), privateKeyPEM: String(decoding: pem, as: UTF8.self))
                        try Data(plaintext).write(to: output.appendingPathComponent(source.lastPathComponent), options: .atomic)
                        emit("\(output.path)/\(source.lastPathComponent)\n")
                        continue
                    }
                    let fileKey: AESKey
                    let deviceKey: AESKey? = switch ProvisioningFileName(source.lastPathComponent).kind.encryptionKey {
                    case .device(let mac)?: deviceKeys[mac.canonical]
                    default: nil
                    }
                    if let key {
                        fileKey = try AESKey(key)
                    } else if let deviceKey {
                        fileKey = deviceKey  // a phone's <mac>.cfg, or the <mac>-local.cfg it uploaded
                    } else {
                        let beside = source.deletingLastPathComponent().appendingPathComponent(securityFileName(for: source))
                        guard let wrapped = FileManager.default.contents(atPath: beside.path) else {
                            throw UsageFailure("no key: give --key, or put \(beside.lastPathComponent) beside it")
                        }
                        fileKey = try CompatibilityEncryption.key(fromSecurityFile: Array(wrapped))
                    }
                    let plaintext = try CompatibilityEncryption.decryptFile(Array(data), key: fileKey)
                    try Data(plaintext).write(to: output.appendingPathComponent(source.lastPathComponent), options: .atomic)
                    emit("\(output.path)/\(source.lastPathComponent)\n")
                } catch {
                    FileHandle.standardError.write(Data("autoprov: \(path): \(error)\n".utf8))
                    failed = true
                }
            }
        }
        if failed { throw ExitCode(1) }
    }
}
