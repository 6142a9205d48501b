// Phone/: the phone's own algorithm (R3-R5, R8): the download plan, merging, state, schedules, URLs. No I/O.
/// An activation-code block, `static.autoprovision.X.*` with X from 1 to 50 (R8.2).
public struct ActivationCode: Sendable, Hashable {
    /// The fields of a block.
    public static let fields: Set<String> = ["name", "code", "url", "user", "password", "com_aes", "mac_aes"]
    /// The range of X.
    public static let indices = 1...50
    /// The longest code a user can dial.
    public static let maximumCodeLength = 32
    static let prefix = "static.autoprovision."

    /// X.
    public let index: Int
    /// Each field's value and line.
    public var values: [String: (value: String, line: Int, column: Int)] = [:]

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.index == rhs.index && lhs.values.mapValues(\.value) == rhs.values.mapValues(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(index)
        hasher.combine(values.mapValues(\.value))
    }

    /// The code the user dials.
    public var code: String? { values["code"]?.value }
    /// The server URL the code leads to.
    public var url: String? { values["url"]?.value }

    /// Whether a code holds only digits, `#` and `*`, at most 32 of them.
    public static func isValidCode(_ code: String) -> Bool {
        !code.isEmpty && code.count <= maximumCodeLength && code.allSatisfy { "0123456789#*".contains($0) }
    }
}

/// Reads and checks the activation-code blocks of a file (R8.2).
public enum ActivationCodes {
    /// The blocks in a file, in index order, and the problems found.
    public static func parse(_ file: ConfigFile) -> (blocks: [ActivationCode], problems: [Diagnostic]) {
        var blocks: [Int: ActivationCode] = [:]
        var problems: [Diagnostic] = []
        for (setting, line, _) in file.settings where setting.key.hasPrefix(ActivationCode.prefix) {
            let rest = setting.key.dropFirst(ActivationCode.prefix.count).split(separator: ".", maxSplits: 1)
            guard rest.count == 2, let index = Int(rest[0]) else {
                problems.append(Diagnostic(line: line, column: setting.keyColumn, severity: .warning,
                                           code: "bad-activation-code",
                                           message: "'\(setting.key)' is not static.autoprovision.X.FIELD (R8.2)"))
                continue
            }
            guard ActivationCode.indices.contains(index) else {
                problems.append(Diagnostic(line: line, column: setting.keyColumn, severity: .error,
                                           code: "bad-activation-code",
                                           message: "activation-code index \(index) is outside 1-50 (R8.2)"))
                continue
            }
            let field = String(rest[1])
            guard ActivationCode.fields.contains(field) else {
                problems.append(Diagnostic(
                    line: line, column: setting.keyColumn, severity: .warning, code: "bad-activation-code",
                    message: "unknown activation-code field '\(field)' (known: "
                        + ActivationCode.fields.sorted().joined(separator: ", ") + ")"))
                continue
            }
            blocks[index, default: ActivationCode(index: index)].values[field] =
                (setting.value, line, setting.valueColumn)
        }
        for block in blocks.values { problems += check(block) }
        var seen: [String: Int] = [:]
        for block in blocks.values.sorted(by: { $0.index < $1.index }) {
            guard let code = block.code, !code.isEmpty, let entry = block.values["code"] else { continue }
            if let other = seen[code] {
                problems.append(Diagnostic(line: entry.line, column: entry.column, severity: .error,
                                           code: "bad-activation-code",
                                           message: "activation code '\(code)' is also used by block \(other)"))
            } else {
                seen[code] = block.index
            }
        }
        return (blocks.values.sorted { $0.index < $1.index }, problems.sorted { $0.line < $1.line })
    }

    static func check(_ block: ActivationCode) -> [Diagnostic] {
        var problems: [Diagnostic] = []
        let x = block.index
        if let entry = block.values["code"], !entry.value.isEmpty, !ActivationCode.isValidCode(entry.value) {
            problems.append(Diagnostic(
                line: entry.line, column: entry.column, severity: .error, code: "bad-activation-code",
                message: "activation code '\(entry.value)' must be 1-32 characters of 0-9, '#' and '*' (R8.2)"))
        }
        let code = block.values["code"].map { !$0.value.isEmpty } ?? false
        let url = block.values["url"].map { !$0.value.isEmpty } ?? false
        if code && !url, let entry = block.values["code"] {
            problems.append(Diagnostic(line: entry.line, column: 1, severity: .error, code: "bad-activation-code",
                                       message: "activation code \(x) has no static.autoprovision.\(x).url"))
        }
        if url && !code, let entry = block.values["url"] {
            problems.append(Diagnostic(line: entry.line, column: 1, severity: .warning, code: "bad-activation-code",
                                       message: "activation code \(x) has a URL but no code to dial"))
        }
        if let entry = block.values["url"], !entry.value.isEmpty, (try? ProvisioningURL(entry.value)) == nil {
            problems.append(Diagnostic(line: entry.line, column: entry.column, severity: .error,
                                       code: "bad-activation-code",
                                       message: ProvisioningURLError(text: entry.value).description))
        }
        for field in ["com_aes", "mac_aes"] {
            if let entry = block.values[field], !entry.value.isEmpty, let problem = AESKey.problem(in: entry.value) {
                problems.append(Diagnostic(line: entry.line, column: entry.column, severity: .error,
                                           code: "bad-aes-key", message: problem.description))
            }
        }
        return problems
    }
}
