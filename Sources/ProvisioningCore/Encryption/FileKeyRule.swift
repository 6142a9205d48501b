/// Which key a configuration file is encrypted with (R6.2), in one place for the server, `encrypt`/`decrypt`,
/// `lint` and `resolve`.
public enum FileKeyChoice: Sendable, Hashable {
    /// `<mac>.cfg` and `<mac>-local.cfg`: that phone's own key.
    case device(MACAddress)
    /// Every other configuration file: the common key.
    case common
}

extension ProvisioningFileKind {
    /// R6.2: the key a file of this kind is encrypted with; nil for boot files, which are never encrypted.
    public var encryptionKey: FileKeyChoice? {
        switch self {
        case .macConfig(let mac), .macLocal(let mac): .device(mac)
        case .commonConfig, .otherConfig: .common
        case .commonBoot, .macBoot, .otherBoot: nil
        }
    }
}

/// R6.3: `<name>_Security.enc` carries the key of `<name>.cfg`, wrapped in the phones' built-in key.
public enum SecurityFile {
    public static let suffix = "_Security.enc"

    /// `account.cfg` → `account_Security.enc`: the file's name without its extension.
    public static func name(for fileName: String) -> String {
        let stem = fileName.lastIndex(of: ".").map { $0 == fileName.startIndex ? fileName[...] : fileName[..<$0] }
            ?? fileName[...]
        return stem + suffix
    }

    /// `account_Security.enc` → `account.cfg`; nil when `name` is not a security file's name.
    public static func securedFileName(for name: String) -> String? {
        guard name.hasSuffix(suffix), name.count > suffix.count else { return nil }
        return name.dropLast(suffix.count) + ".cfg"
    }
}
