/// R3.7: resource files (firmware, ring tones, language packs, directories, certificates, wallpapers) are named by
/// URL values in the configuration and fetched after it; they are not settings.
public enum ResourceFiles {
    /// Keys whose `.url` names something other than a file to fetch: the provisioning server itself and action URLs.
    static let notResources = ["static.auto_provision.", "action_url.", "features.action_uri"]

    /// The effective settings that name a resource file: a key whose last part is `url` (`static.firmware.url`,
    /// `ringtone.url`, `local_contact.data.url`, …) with a value, in key order.
    public static func listed(_ settings: [String: EffectiveSetting]) -> [(key: String, value: String)] {
        settings.keys.sorted().compactMap { key in
            guard key.hasSuffix(".url"), !notResources.contains(where: key.hasPrefix),
                  let value = settings[key]?.value, !value.isEmpty else { return nil }
            return (key, value)
        }
    }

    /// Where the phone fetches a resource named by `value`: an absolute URL as it is, else relative to the directory
    /// it provisions from.
    public static func url(_ value: String, request: ProvisioningRequest, outcome: ProvisioningOutcome) -> ProvisioningURL? {
        if ProvisioningURL.isAbsolute(value) { return try? ProvisioningURL(value) }
        return try? Provisioning.base(request, outcome: outcome)?.resolving(value)
    }
}
