/// Applies configuration files to the phone's settings in download order (R4.1–R4.3, R5.1, R1.7).
struct SettingsMerge {
    private(set) var effective: [String: EffectiveSetting]
    private(set) var resetKeys: Set<String> = []
    private var setThisTime: Set<String> = []
    private let previousKeys: [String]
    private let overwrite: Bool
    private let modelKeys: Set<String>

    init(previous: [String: SettingSource], overwrite: Bool, model: PhoneModel) {
        effective = previous.mapValues { EffectiveSetting(value: $0.value, file: $0.file, line: $0.line) }
        previousKeys = Array(previous.keys)
        self.overwrite = overwrite
        modelKeys = Set(model.allNames.map(PhoneModel.lookupKey))
    }

    /// The current value of a key, nil at factory default.
    func value(_ key: String) -> String? {
        effective[key]?.value
    }

    /// Applies one file's settings; a MAC-local file's static settings are ignored (R5.1).
    mutating func apply(_ file: ConfigFile, path: String, isLocal: Bool = false) {
        for (setting, line, section) in file.settings {
            if let section, !section.contains(where: { modelKeys.contains(PhoneModel.lookupKey($0)) }) {
                continue  // R1.7: a model section for other models.
            }
            if isLocal && setting.isStatic { continue }
            if setting.key == OverwriteMode.key { continue }  // R2.4: only meaningful in boot files.
            setThisTime.insert(setting.key)
            if !setting.value.isEmpty {
                effective[setting.key] = EffectiveSetting(value: setting.value, file: path, line: line)
                resetKeys.remove(setting.key)
            } else if overwrite {
                // R4.2: a blank value takes the factory default.
                effective[setting.key] = EffectiveSetting(value: nil, file: path, line: line)
                resetKeys.insert(setting.key)
            }
            // R4.3: without overwrite mode a blank value is ignored.
        }
    }

    /// R4.2: with overwrite mode on, a non-static key set last time and by no file now returns to its default.
    mutating func resetDeletedKeys() {
        guard overwrite else { return }
        for key in previousKeys where !key.hasPrefix("static.") && !setThisTime.contains(key) {
            effective[key] = EffectiveSetting(value: nil, file: nil, line: nil)
            resetKeys.insert(key)
        }
    }
}
