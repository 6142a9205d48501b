import Foundation
import ProvisioningCore

/// On-the-fly encryption of served files (`[encryption]`, R6.2, R6.3): files on disk stay plain; common CFG files
/// go out under the common key, `<mac>.cfg` under that device's key, and `<name>_Security.enc` is answered with the
/// wrapped key. Deterministic, so a file's bytes and ETag stay the same from one request to the next (S3, R4.4).
public struct ServedEncryption: Sendable, Hashable {
    public var commonKey: AESKey?
    /// Device keys by canonical MAC.
    public var deviceKeys: [String: AESKey]

    public init(commonKey: AESKey? = nil, deviceKeys: [String: AESKey] = [:]) {
        self.commonKey = commonKey
        self.deviceKeys = deviceKeys
    }

    public var isOn: Bool { commonKey != nil || !deviceKeys.isEmpty }

    /// Reads `common_key` and the `keys` file (`mac,key` lines, `#` comments); errors name the file and line.
    public init(commonKey text: String, keysFile: String) throws(ConfigurationError) {
        self.init()
        if !text.isEmpty {
            do { commonKey = try AESKey(text) } catch { throw ConfigurationError("encryption.common_key: \(error)") }
        }
        guard !keysFile.isEmpty else { return }
        guard let data = FileManager.default.contents(atPath: keysFile) else {
            throw ConfigurationError("cannot read the encryption keys file", code: .unreadableFile, file: keysFile)
        }
        for (index, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { continue }
            // The MAC has no commas; a key may (R6.1), so only the first comma separates them.
            guard let comma = trimmed.firstIndex(of: ",") else {
                throw ConfigurationError("expected 'mac,key'", file: keysFile, line: index + 1)
            }
            do {
                let mac = try MACAddress(trimmed[..<comma].trimmingCharacters(in: .whitespaces))
                deviceKeys[mac.canonical] = try AESKey(String(trimmed[trimmed.index(after: comma)...]))
            } catch {
                throw ConfigurationError("\(error)", file: keysFile, line: index + 1)
            }
        }
    }

    /// The key a served file goes out under (R6.2, ``FileKeyChoice``): `<mac>.cfg` the device's, another `.cfg` the
    /// common one; boot files, `<mac>-local.cfg` (the phone's own upload, which goes back as it was sent) and
    /// everything else are served as they are.
    public func key(for path: RootRelativePath) -> AESKey? {
        guard let name = path.segments.last, name.lowercased().hasSuffix(".cfg") else { return nil }
        let kind = ProvisioningFileName(name).kind
        if case .macLocal = kind { return nil }
        switch kind.encryptionKey {
        case .device(let mac)?: return deviceKeys[mac.canonical]
        case .common?: return commonKey
        case nil: return nil
        }
    }

    /// The file `<stem>_Security.enc` stands for (`account_Security.enc` → `account.cfg` in the same folder, R6.3).
    public func securedFile(for path: RootRelativePath) -> RootRelativePath? {
        guard let name = path.segments.last, let secured = SecurityFile.securedFileName(for: name) else { return nil }
        return try? RootRelativePath((path.segments.dropLast() + [secured]).joined(separator: "/"))
    }

    /// What goes on the wire for a file read from the root: encrypted when a key applies and it is still plain.
    public func served(_ data: [UInt8], path: RootRelativePath) -> [UInt8] {
        guard let key = encryptingKey(start: data, path: path) else { return data }
        return CompatibilityEncryption.encrypt(data, key: key)
    }

    /// The key a root file whose first bytes are `start` (64 are enough) is encrypted with on the way out; nil when
    /// no key applies or it is already encrypted on disk (it goes out as it is, under a key autoprov does not know).
    public func encryptingKey(start: [UInt8], path: RootRelativePath) -> AESKey? {
        guard let key = key(for: path), CompatibilityEncryption.looksPlain(start), !RSAModeEncryption.isEncrypted(start)
        else { return nil }
        return key
    }
}
