/// One line of a `.cfg` or `.boot` file, as read (R1, R2).
public struct ConfigLine: Sendable, Hashable {
    /// 1-based line number.
    public let number: Int
    /// The line's text without its line terminator.
    public var text: String
    /// How the line ended in the file.
    public var terminator: LineTerminator
    /// What the line is.
    public var kind: Kind

    /// What a line is.
    public enum Kind: Sendable, Hashable {
        /// `#!version:1.0.0.1` as the first line (R1.1).
        case header
        /// Empty or only spaces and tabs.
        case blank
        /// First non-blank character `#` (R1.2).
        case comment
        /// `key = value` (R1.3).
        case setting(ConfigSetting)
        /// `[T46S, T23G]`: the settings below apply to these models only (R1.7).
        case modelSection([String])
        /// `include:config <path>` or `include:config "path"` (R2.2), valid or not.
        case include(IncludeStatement)
        /// A non-blank line that is none of the above (R1.3): ignored by the phone.
        case invalid(LineProblem)
    }

    /// How a line ended.
    public enum LineTerminator: String, Sendable, Hashable {
        case lf = "\n"
        case crlf = "\r\n"
        /// The file's last line, with no terminator.
        case none = ""
    }
}

/// A `key = value` line (R1.3).
public struct ConfigSetting: Sendable, Hashable {
    /// The key, trimmed; never empty, no white space.
    public let key: String
    /// The value, trimmed; empty for a blank value (R4.2, R4.3).
    public let value: String
    /// 1-based column of the key.
    public let keyColumn: Int
    /// 1-based column of the value (of the end of the line when the value is blank).
    public let valueColumn: Int

    /// Whether the key is a static setting (R1.6).
    public var isStatic: Bool { key.hasPrefix("static.") }
}

/// Why a non-blank line is not a setting.
public enum LineProblem: Sendable, Hashable {
    /// No `=` and not a comment, section or include.
    case notASetting
    /// Nothing before the `=`.
    case emptyKey
    /// The key holds a space or tab (`features.dnd mode = 0`).
    case keyHasWhitespace(String)
    /// Bytes that are not UTF-8 (R1.4).
    case notUTF8
}

extension LineProblem: CustomStringConvertible {
    public var description: String {
        switch self {
        case .notASetting: "line is neither a comment nor a 'key = value' setting; the phone ignores it"
        case .emptyKey: "setting has no key before '='"
        case .keyHasWhitespace(let key): "key '\(key)' contains white space; the phone ignores the line"
        case .notUTF8: "line is not valid UTF-8"
        }
    }
}
