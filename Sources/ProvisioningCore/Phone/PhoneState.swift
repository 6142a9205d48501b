/// What a phone remembers between provisionings: its settings and the MD5 of each configuration file it last
/// applied (R4.2–R4.4). `resolve --state FILE` keeps it as JSON.
public struct PhoneState: Sendable, Hashable, Codable {
    /// The phone's settings that are not at their factory default, with where each came from.
    public var settings: [String: SettingSource]
    /// MD5 (hex) of every configuration file downloaded by the last provisioning, by path (R4.4).
    public var digests: [String: String]

    public init(settings: [String: SettingSource] = [:], digests: [String: String] = [:]) {
        self.settings = settings
        self.digests = digests
    }

    /// A setting's value, if not at factory default.
    public func value(_ key: String) -> String? {
        settings[key]?.value
    }
}

/// A setting's value and the file line that set it.
public struct SettingSource: Sendable, Hashable, Codable {
    public var value: String
    public var file: String
    public var line: Int

    public init(value: String, file: String, line: Int) {
        self.value = value
        self.file = file
        self.line = line
    }
}
