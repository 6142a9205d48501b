import ProvisioningCore

/// The keys a phone reads encrypted files with (R6.2): given to it, or received in an earlier provisioning.
public struct PhoneKeys: Sendable {
    public var common: AESKey?
    public var mac: AESKey?

    public init(common: AESKey? = nil, mac: AESKey? = nil) {
        self.common = common
        self.mac = mac
    }

    /// The keys the phone's settings hold (`static.auto_provision.aes_key_16.com|mac`, or their `aes_key.*` aliases),
    /// where these keys have none.
    public func filled(from settings: [String: String]) -> PhoneKeys {
        func key(_ suffix: String) -> AESKey? {
            ["static.auto_provision.aes_key_16.\(suffix)", "static.auto_provision.aes_key.\(suffix)"]
                .lazy.compactMap { settings[$0] }.compactMap { try? AESKey($0) }.first
        }
        return PhoneKeys(common: common ?? key("com"), mac: mac ?? key("mac"))
    }
}

extension PhoneClient {
    /// A download as the phone reads it: an encrypted file (R6.3) decrypted with the key R6.2 names for it (the MAC
    /// key for `<mac>.cfg` and `<mac>-local.cfg`, else the common key) or, without one, the key in its
    /// `<name>_Security.enc` beside it on the server.
    public func fetch(_ url: ProvisioningURL, keys: PhoneKeys) -> FetchResult {
        let result = fetch(url)
        guard case .found(let bytes) = result, !CompatibilityEncryption.looksPlain(bytes) else { return result }
        let name = url.lastSegment
        let macFile = if case .device? = ProvisioningFileName(name).kind.encryptionKey { true } else { false }
        var key = macFile ? keys.mac : keys.common
        if key == nil, let companion = try? url.resolving(SecurityFile.name(for: name)),
           case .found(let wrapped) = fetch(companion) {
            key = try? CompatibilityEncryption.key(fromSecurityFile: wrapped)
        }
        guard let key else {
            return .unreachable("encrypted, and the phone has no \(macFile ? "MAC" : "common") key for it (R6.2)")
        }
        do {
            return .found(try CompatibilityEncryption.decryptFile(bytes, key: key))
        } catch {
            return .unreachable("cannot decrypt it: \(error)")
        }
    }
}
