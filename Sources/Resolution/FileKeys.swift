import Foundation
import ProvisioningCore

/// The keys for reading encrypted configuration files.
public struct FileKeys: Sendable {
    public var common: AESKey?
    public var mac: AESKey?

    public init(common: AESKey? = nil, mac: AESKey? = nil) {
        self.common = common
        self.mac = mac
    }

    /// A file's plain bytes: as they are when plain; else decrypted with the key R6.2 names for it (`<mac>.cfg` and
    /// `<mac>-local.cfg`: the MAC key; others: the common key), or with the key in `<name>_Security.enc` beside it.
    public func plaintext(_ bytes: [UInt8], file: URL) throws -> [UInt8] {
        guard !CompatibilityEncryption.looksPlain(bytes) else { return bytes }
        let macFile = switch ProvisioningFileName(file.lastPathComponent).kind.encryptionKey {
        case .device?: true
        default: false
        }
        var key = macFile ? mac : common
        if key == nil {
            let beside = file.deletingLastPathComponent().appendingPathComponent(SecurityFile.name(for: file.lastPathComponent))
            if let wrapped = FileManager.default.contents(atPath: beside.path) {
                key = try CompatibilityEncryption.key(fromSecurityFile: Array(wrapped))
            }
        }
        guard let key else {
            throw ResolveError("\(file.path): encrypted; give \(macFile ? "--mac-key" : "--common-key"), "
                + "or put \(SecurityFile.name(for: file.lastPathComponent)) beside it")
        }
        do {
            return try CompatibilityEncryption.decryptFile(bytes, key: key)
        } catch {
            throw ResolveError("\(file.path): \(error)")
        }
    }
}

/// Why a resolve could not read what it needed: a key, a URL.
public struct ResolveError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
