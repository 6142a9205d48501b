/// What one provisioning did (R3–R5): the files tried, the effective settings and what follows.
public struct ProvisioningOutcome: Sendable, Hashable {
    /// The phone.
    public var mac: MACAddress
    /// The phone's model.
    public var model: PhoneModel
    /// Whether overwrite mode was on (R2.4).
    public var overwriteMode: Bool
    /// Whether the MD5 check found every configuration file unchanged, so nothing was updated (R4.4).
    public var unchanged: Bool
    /// Whether the phone reboots after this provisioning (R4.5).
    public var rebootRequired: Bool
    /// Every file the phone tried, in order.
    public var files: [TriedFile]
    /// Every setting the phone knows after provisioning: a value, or nil for its factory default.
    public var settings: [String: EffectiveSetting]
    /// The keys this provisioning returned to their factory default, sorted.
    public var reset: [String]
    /// The phone's memory after this provisioning, for the next one.
    public var state: PhoneState
}

/// A file the phone tried to download, and what became of it.
public struct TriedFile: Sendable, Hashable, Codable {
    /// Path relative to the server root, or the full URL for a file elsewhere.
    public var path: String
    /// Why the phone fetched it.
    public var role: FileRole
    /// What became of it.
    public var status: FileStatus
    /// MD5 of the downloaded bytes (hex), when found.
    public var md5: String?
    /// Why, when the status needs explaining.
    public var note: String?

    public init(path: String, role: FileRole, status: FileStatus, md5: String? = nil, note: String? = nil) {
        self.path = path
        self.role = role
        self.status = status
        self.md5 = md5
        self.note = note
    }
}

/// Why the phone fetched a file (R3).
public enum FileRole: String, Sendable, Hashable, Codable, CaseIterable {
    case macBoot = "mac-boot"
    case commonBoot = "common-boot"
    case include = "include"
    case commonConfig = "common-cfg"
    case macConfig = "mac-cfg"
    case macLocal = "mac-local"
}

/// What became of a file the phone tried.
public enum FileStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// Found, valid, and its settings (or includes) took effect.
    case applied
    /// Not on the server (TFTP error 1, HTTP 404): the phone moves on (R3, S1).
    case missing
    /// Found but rejected (no `#!version:1.0.0.1` header, R1.1).
    case invalid
    /// Found or stored, but not applied (MAC-local without custom.protect, R5.3; nothing changed, R4.4;
    /// a URL on another server).
    case ignored
}

/// A setting after provisioning: a value, or nil for the factory default, and the line that decided it.
public struct EffectiveSetting: Sendable, Hashable {
    /// The value, or nil when the setting is at its factory default.
    public var value: String?
    /// The file that set it (or, with a blank value, reset it); nil when a deletion reset it (R4.2).
    public var file: String?
    /// The line in ``file``.
    public var line: Int?

    public init(value: String?, file: String?, line: Int?) {
        self.value = value
        self.file = file
        self.line = line
    }
}

extension EffectiveSetting: Codable {
    enum CodingKeys: String, CodingKey {
        case value, file, line
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        value = try container.decodeIfPresent(String.self, forKey: .value)
        file = try container.decodeIfPresent(String.self, forKey: .file)
        line = try container.decodeIfPresent(Int.self, forKey: .line)
    }

    /// Always writes `value`, as `null` for the factory default.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(value, forKey: .value)
        try container.encode(file, forKey: .file)
        try container.encode(line, forKey: .line)
    }
}

extension ProvisioningOutcome: Encodable {
    enum CodingKeys: String, CodingKey {
        case mac, model, commonConfigName, overwriteMode, unchanged, rebootRequired, files, settings, reset
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(mac, forKey: .mac)
        try container.encode(model.name, forKey: .model)
        try container.encode(model.commonConfigName, forKey: .commonConfigName)
        try container.encode(overwriteMode, forKey: .overwriteMode)
        try container.encode(unchanged, forKey: .unchanged)
        try container.encode(rebootRequired, forKey: .rebootRequired)
        try container.encode(files, forKey: .files)
        try container.encode(settings, forKey: .settings)
        try container.encode(reset, forKey: .reset)
    }
}
