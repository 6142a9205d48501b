/// What a file is to the phone, known from its name (R2.1, R5, R7.1).
public enum ProvisioningFileKind: Sendable, Hashable {
    /// `y000000000000.boot`.
    case commonBoot
    /// `<mac>.boot`.
    case macBoot(MACAddress)
    /// A model's common CFG file (`y000000000028.cfg`), with the models that request it.
    case commonConfig([PhoneModel])
    /// `<mac>.cfg`.
    case macConfig(MACAddress)
    /// `<mac>-local.cfg`.
    case macLocal(MACAddress)
    /// Any other `.boot` file: used only when a provisioning URL names it (R3.6).
    case otherBoot
    /// Any other `.cfg` file: used when a boot file includes it.
    case otherConfig

    /// Whether the file is a boot file.
    public var isBoot: Bool {
        switch self {
        case .commonBoot, .macBoot, .otherBoot: true
        default: false
        }
    }
}

/// A file name read the way phones read names (case-sensitive, lower-case MAC).
public struct ProvisioningFileName: Sendable, Hashable {
    public let name: String
    public let kind: ProvisioningFileKind
    /// Why a phone may never request the file under this name, if it may not.
    public let problem: String?

    /// Classifies the last path component of a file.
    public init(_ name: String) {
        self.name = name
        let lower = name.lowercased()
        let isBoot = lower.hasSuffix(".boot")
        let stem = name.dropLast(isBoot ? 5 : (lower.hasSuffix(".cfg") ? 4 : 0))
        let lowerStem = Substring(stem.lowercased())
        if isBoot {
            if lowerStem == "y000000000000" {
                kind = .commonBoot
                problem = stem == lowerStem && name.hasSuffix(".boot") ? nil
                    : "phones request the common boot file as '\(BootFile.commonName)' (names are case-sensitive)"
            } else if let (mac, upper) = ProvisioningFileName.mac(in: stem) {
                kind = .macBoot(mac)
                problem = upper || !name.hasSuffix(".boot")
                    ? "phones request '\(mac.canonical).boot' in lower case (R2.1)" : nil
            } else {
                kind = .otherBoot
                problem = "phones request only \(BootFile.commonName) and <mac>.boot; this file is used only "
                    + "when the provisioning URL names it (R3.6)"
            }
            return
        }
        guard lower.hasSuffix(".cfg") else {
            (kind, problem) = (.otherConfig, "configuration files must end in .cfg")
            return
        }
        let models = ModelCatalog.models(commonConfigName: lower)
        if !models.isEmpty {
            kind = .commonConfig(models)
            problem = name == lower ? nil : "phones request '\(lower)' in lower case (R7.1)"
        } else if lowerStem.hasSuffix("-local"), let (mac, upper) = ProvisioningFileName.mac(in: stem.dropLast(6)) {
            kind = .macLocal(mac)
            problem = upper || !name.hasSuffix("-local.cfg")
                ? "phones request '\(mac.canonical)-local.cfg' in lower case (R5)" : nil
        } else if let (mac, upper) = ProvisioningFileName.mac(in: stem) {
            kind = .macConfig(mac)
            problem = upper || !name.hasSuffix(".cfg") ? "phones request '\(mac.canonical).cfg' in lower case" : nil
        } else {
            kind = .otherConfig
            problem = nil
        }
    }

    /// A MAC in a name stem, with separators or upper case counted as "not as the phone writes it".
    private static func mac(in stem: Substring) -> (MACAddress, Bool)? {
        if let (mac, upper) = MACAddress.fromFileStem(stem) { return (mac, upper) }
        guard stem.count == 17, let mac = try? MACAddress(String(stem)) else { return nil }
        return (mac, true)
    }
}
