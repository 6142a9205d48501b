// Formats/: the files phones read (CFG, boot, includes, file names), their linter, DHCP snippets. No I/O.
/// A boot file (`y000000000000.boot` or `<mac>.boot`): the list of CFG files to download and overwrite mode (R2).
public struct BootFile: Sendable, Hashable {
    /// The name of the common boot file (R2.1).
    public static let commonName = "y000000000000.boot"

    /// The file's lines.
    public let file: ConfigFile

    public init(_ file: ConfigFile) {
        self.file = file
    }

    /// The name of a phone's MAC-oriented boot file (R2.1): `00156574b150.boot`.
    public static func name(for mac: MACAddress) -> String {
        mac.canonical + ".boot"
    }

    /// The valid includes, in order (R2.2); invalid ones are ignored as the phone ignores them.
    public var includes: [(path: String, line: Int)] {
        file.lines.compactMap { line in
            guard case .include(let include) = line.kind, include.problem == nil, let path = include.path
            else { return nil }
            return (path, line.number)
        }
    }

    /// Overwrite mode (R2.4): on unless the last `overwrite_mode` line says `0`.
    public var overwriteMode: OverwriteMode {
        guard let line = overwriteModeLine else { return OverwriteMode(isOn: true, line: nil) }
        return OverwriteMode(isOn: line.value != "0", line: line.line)
    }

    /// The last `overwrite_mode` setting and its line, if any.
    var overwriteModeLine: (value: String, line: Int)? {
        file.settings.last(where: { $0.setting.key == OverwriteMode.key }).map { ($0.setting.value, $0.line) }
    }
}

/// Whether blank values and deleted keys return settings to their factory defaults (R2.4, R4.2).
public struct OverwriteMode: Sendable, Hashable {
    /// The setting's name; only valid in boot files.
    public static let key = "overwrite_mode"

    /// Whether the mode is on.
    public let isOn: Bool
    /// The boot-file line that set it, or nil for the default.
    public let line: Int?
}
