// Resolution: what a phone ends up with, from a root on disk and the inventory's generated files, with the provenance of
// every file and setting; shared by `autoprov resolve` and the admin API. Uses FileService (confined reads),
// Inventory (generated files) and Core (the phone's algorithm).
import Foundation
import Inventory
import ProvisioningCore

/// Where the files and settings of a resolve came from: the generated files the phone was served, with each
/// setting's template, line and variables.
public struct ResolveProvenance: Sendable {
    public var generated: [String: GeneratedFile]
    public var withSecrets: Bool

    public init(generated: [String: GeneratedFile] = [:], withSecrets: Bool = false) {
        self.generated = generated
        self.withSecrets = withSecrets
    }

    /// `disk`, or `generated: defaults.cfg, models/T46S.cfg` (a file that was found).
    public func source(of file: TriedFile) -> String? {
        guard file.status != .missing else { return nil }
        guard let generated = generated[file.path] else { return "disk" }
        return generated.templates.isEmpty ? "generated" : "generated: " + generated.templates.map(\.path).joined(separator: ", ")
    }

    /// The generated setting behind an effective one, when a generated file set it.
    public func origin(of setting: EffectiveSetting, key: String) -> GeneratedSetting? {
        guard let file = setting.file, let generated = generated[file] else { return nil }
        return generated.settings.first { $0.key == key }
    }

    /// `groups/sales.cfg:3, user from device`.
    public static func describe(_ origin: GeneratedSetting) -> String {
        ([("\(origin.template.path):\(origin.line)")] + origin.variables.map { "\($0.name) from \($0.source.map(String.init(describing:)) ?? "nowhere (empty)")" })
            .joined(separator: ", ")
    }

    public func shown(_ value: String, _ origin: GeneratedSetting?) -> String {
        origin?.isSecret == true && !withSecrets ? SecretVariables.mask : value
    }
}

/// How `resolve` prints an outcome.
public enum ResolveOutput {
    public static func json(_ outcome: ProvisioningOutcome, provenance: ResolveProvenance = ResolveProvenance()) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard var object = try JSONSerialization.jsonObject(with: try encoder.encode(outcome)) as? [String: Any] else {
            return String(decoding: try encoder.encode(outcome), as: UTF8.self) + "\n"
        }
        // Each file's source, and each generated setting's template, line and variables (secrets masked).
        if var files = object["files"] as? [[String: Any]] {
            for (index, file) in outcome.files.enumerated() where index < files.count {
                if let source = provenance.source(of: file) { files[index]["source"] = source }
            }
            object["files"] = files
        }
        if var settings = object["settings"] as? [String: [String: Any]] {
            for (key, setting) in outcome.settings {
                guard let origin = provenance.origin(of: setting, key: key) else { continue }
                settings[key]?["template"] = origin.template.path
                settings[key]?["templateLine"] = origin.line
                settings[key]?["variables"] = origin.variables.map {
                    ["name": $0.name, "source": $0.source.map(String.init(describing:)) ?? "none"]
                }
                if let value = setting.value { settings[key]?["value"] = provenance.shown(value, origin) }
            }
            object["settings"] = settings
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// The effective configuration as a CFG file, keys sorted; factory defaults as comments; a setting from a
    /// generated file follows a comment naming its template, line and variables.
    public static func cfg(_ outcome: ProvisioningOutcome, provenance: ResolveProvenance = ResolveProvenance()) -> String {
        var comments = [
            "autoprov resolve: \(outcome.mac) (\(outcome.model.name)), overwrite mode "
                + (outcome.overwriteMode ? "on" : "off")
                + (outcome.unchanged ? ", unchanged (MD5)" : "") + (outcome.rebootRequired ? ", reboot" : ""),
        ]
        for file in outcome.files {
            let notes = [file.note, provenance.generated.isEmpty ? nil : provenance.source(of: file)].compactMap { $0 }
            comments.append("\(file.role.rawValue) \(file.path): \(file.status.rawValue)"
                + (notes.isEmpty ? "" : " (\(notes.joined(separator: "; ")))"))
        }
        var lines = ConfigFile.rendering([], comments: comments).serialized()
        for key in outcome.settings.keys.sorted() {
            let setting = outcome.settings[key]!
            let origin = provenance.origin(of: setting, key: key)
            if let origin { lines += Array("# \(key): \(ResolveProvenance.describe(origin))\n".utf8) }
            let text = setting.value.map { "\(key) = \(provenance.shown($0, origin))\n" } ?? "# \(key) = (factory default)\n"
            lines += Array(text.utf8)
        }
        return String(decoding: lines, as: UTF8.self)
    }
}
