/// Checks one `.cfg` or `.boot` file against the phone's rules, as `autoprov lint` reports them.
///
/// Pure: the caller reads the file and answers whether an include's target exists.
public struct Linter: Sendable {
    /// Answers whether a path relative to the provisioning root exists, or nil when it cannot tell.
    public var fileExists: @Sendable (String) -> Bool?

    public init(fileExists: @escaping @Sendable (String) -> Bool? = { _ in nil }) {
        self.fileExists = fileExists
    }

    /// The findings for a file at `path` (relative to the provisioning root, `/`-separated), in line order.
    public func lint(path: String, bytes: [UInt8]) -> [Diagnostic] {
        let name = ProvisioningFileName(String(path.split(separator: "/").last ?? Substring(path)))
        var findings: [Diagnostic] = []
        if let problem = name.problem {
            findings.append(Diagnostic(line: 1, column: 1, severity: .warning, code: "bad-filename", message: problem))
        }
        if Linter.looksEncrypted(bytes) {
            findings.append(Diagnostic(
                line: 1, column: 1, severity: .warning, code: "encrypted-file",
                message: "file looks AES-encrypted (R6.3); its contents cannot be checked without the key"))
            return findings
        }
        let file = ConfigFile(bytes: bytes)
        var check = FileCheck(file: file, kind: name.kind, path: path, fileExists: fileExists)
        check.run()
        findings += check.findings
        return findings.sorted { ($0.line, $0.column) < ($1.line, $1.column) }
    }

    /// Binary content whose length is a multiple of the AES block (R6.3): not a text file.
    static func looksEncrypted(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty, bytes.count % 16 == 0, !bytes.starts(with: Array("#!".utf8)) else { return false }
        let binary = bytes.filter { $0 < 0x09 || ($0 > 0x0D && $0 < 0x20) || $0 == 0x7F }.count
        return binary * 10 > bytes.count
    }
}

/// The checks of one file's lines.
struct FileCheck {
    let file: ConfigFile
    let kind: ProvisioningFileKind
    let path: String
    let fileExists: @Sendable (String) -> Bool?
    var findings: [Diagnostic] = []

    mutating func run() {
        if file.hasByteOrderMark {
            report(1, 1, .warning, "byte-order-mark", "UTF-8 byte order mark before the header; remove it (R1.4)")
        }
        if !file.hasHeader {
            let first = file.lines.first?.text ?? ""
            let detail = first.hasPrefix("#!version:") ? "'\(first)' is not the header" : "the first line is not it"
            report(1, 1, .error, "missing-header",
                   "file must start with '\(ConfigFile.header)' (\(detail)); the phone rejects it (R1.1)")
        }
        var section: [String]?
        var seen: [String: Int] = [:]
        for line in file.lines {
            switch line.kind {
            case .header, .blank, .comment:
                break
            case .invalid(let problem):
                report(line.number, 1, .error, problem == .notUTF8 ? "invalid-utf8" : "invalid-line",
                       problem.description + " (R1.3)")
            case .include(let include):
                checkInclude(include, line: line.number)
            case .modelSection(let models):
                section = models
                for model in models where ModelCatalog.model(named: model) == nil {
                    report(line.number, 2, .warning, "unknown-model", "model section names unknown model '\(model)'")
                }
            case .setting(let setting):
                let scope = (section ?? []).joined(separator: ",") + "|" + setting.key
                if let earlier = seen[scope] {
                    report(line.number, setting.keyColumn, .warning, "duplicate-key",
                           "'\(setting.key)' is already set on line \(earlier); this later value wins (R1.5)")
                }
                seen[scope] = line.number
                checkSetting(setting, line: line.number, section: section)
            }
        }
        for problem in ActivationCodes.parse(file).problems { findings.append(problem) }
    }

    mutating func checkInclude(_ include: IncludeStatement, line: Int) {
        guard kind.isBoot else {
            report(line, 1, .error, "include-outside-boot",
                   "include:config only works in boot files; the phone ignores it in a .cfg file (R2.2)")
            return
        }
        if let problem = include.problem {
            report(line, include.column, .error, problem == .curlyQuote ? "curly-quote" : "bad-include",
                   problem.description + " (R2.2)")
            return
        }
        guard let target = include.path, !ProvisioningURL.isAbsolute(target),
              let root = try? ProvisioningURL("tftp://root/"),
              let resolved = try? root.appending(path).resolving(target),
              let relative = resolved.path(relativeTo: root)
        else { return }
        if fileExists(relative) == false {
            report(line, include.column, .warning, "missing-include",
                   "included file '\(relative)' is not in the provisioning root; the phone skips it (R3.5)")
        }
    }

    mutating func checkSetting(_ setting: ConfigSetting, line: Int, section: [String]?) {
        let key = setting.key
        if key == OverwriteMode.key {
            if !kind.isBoot {
                report(line, setting.keyColumn, .error, "overwrite-outside-boot",
                       "overwrite_mode only works in boot files; the phone ignores it here (R2.4)")
            } else if setting.value != "0" && setting.value != "1" {
                report(line, setting.valueColumn, .error, "bad-overwrite-mode",
                       "overwrite_mode must be 0 or 1, not '\(setting.value)' (R2.4)")
            }
            return
        }
        if kind.isBoot {
            report(line, setting.keyColumn, .warning, "boot-setting-ignored",
                   "'\(key)' in a boot file is ignored; put settings in a .cfg file (R2.5)")
            return
        }
        if case .macLocal = kind, setting.isStatic {
            report(line, setting.keyColumn, .warning, "static-in-local",
                   "static setting '\(key)' in a MAC-local file is ignored by the phone (R5.1)")
        }
        if AESKey.holdsKey(key), !setting.value.isEmpty, let problem = AESKey.problem(in: setting.value) {
            report(line, setting.valueColumn, .error, "bad-aes-key", problem.description)
        }
        checkAccount(setting, line: line, section: section)
    }

    /// R7.2: `account.N.*` beyond the model's account count.
    mutating func checkAccount(_ setting: ConfigSetting, line: Int, section: [String]?) {
        let parts = setting.key.split(separator: ".", maxSplits: 2)
        guard parts.count == 3, parts[0] == "account", let number = Int(parts[1]) else { return }
        var models: [PhoneModel] = []
        if let section {
            models = section.compactMap { ModelCatalog.model(named: $0) }
        } else if case .commonConfig(let named) = kind {
            models = named
        }
        let counts = models.map(\.accounts)
        guard !counts.isEmpty, !counts.contains(nil), let limit = counts.compactMap({ $0 }).max() else { return }
        if number < 1 || number > limit {
            let names = models.map(\.name).joined(separator: "/")
            report(line, setting.keyColumn, .warning, "account-out-of-range",
                   "\(names) has accounts 1-\(limit); 'account.\(number)' does not exist on it (R7.2)")
        }
    }

    mutating func report(_ line: Int, _ column: Int, _ severity: Diagnostic.Severity, _ code: String,
                         _ message: String) {
        findings.append(Diagnostic(line: line, column: column, severity: severity, code: code, message: message))
    }
}
