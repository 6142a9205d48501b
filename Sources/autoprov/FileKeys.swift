import ArgumentParser
import Foundation
import ProvisioningCore

/// `--common-key` and `--mac-key` for `lint` and `resolve`: encrypted files are read as the phone reads them (R6.2).
struct FileKeyOptions: ParsableArguments {
    @Option(name: .customLong("common-key"), help: "Key of encrypted common CFG files (else <name>_Security.enc beside each).")
    var commonKey: String?

    @Option(name: .customLong("mac-key"), help: "Key of encrypted <mac>.cfg files (else <name>_Security.enc beside each).")
    var macKey: String?

    func validate() throws {
        for (name, key) in [("--common-key", commonKey), ("--mac-key", macKey)] {
            if let key, let problem = AESKey.problem(in: key) { throw ValidationError("\(name): \(problem)") }
        }
    }

    var keys: FileKeys {
        FileKeys(common: commonKey.flatMap { try? AESKey($0) }, mac: macKey.flatMap { try? AESKey($0) })
    }
}

/// The keys for reading encrypted configuration files.
struct FileKeys {
    var common: AESKey?
    var mac: AESKey?

    /// A file's plain bytes: as they are when plain; else decrypted with the key R6.2 names for it (`<mac>.cfg` and
    /// `<mac>-local.cfg`: the MAC key; others: the common key), or with the key in `<name>_Security.enc` beside it.
    func plaintext(_ bytes: [UInt8], file: URL) throws -> [UInt8] {
        guard !CompatibilityEncryption.looksPlain(bytes) else { return bytes }
        let macFile = switch ProvisioningFileName(file.lastPathComponent).kind.encryptionKey {
        case .device?: true
        default: false
        }
        var key = macFile ? mac : common
        if key == nil {
            let beside = file.deletingLastPathComponent().appendingPathComponent(securityFileName(for: file))
            if let wrapped = FileManager.default.contents(atPath: beside.path) {
                key = try CompatibilityEncryption.key(fromSecurityFile: Array(wrapped))
            }
        }
        guard let key else {
            throw UsageFailure("\(file.path): encrypted; give \(macFile ? "--mac-key" : "--common-key"), "
                + "or put \(securityFileName(for: file)) beside it")
        }
        do {
            return try CompatibilityEncryption.decryptFile(bytes, key: key)
        } catch {
            throw UsageFailure("\(file.path): \(error)")
        }
    }
}
