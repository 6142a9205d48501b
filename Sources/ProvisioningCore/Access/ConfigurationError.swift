/// A configuration problem, in one shape wherever it is found (`autoprov.toml`, its TOML syntax, a keys file, a
/// certificate): a stable code scripts may rely on, the file and line when there are some, and a message an
/// administrator can act on. `SIPParseError` and ``Diagnostic`` have the same parts.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem it is.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The file is not valid (for autoprov's subset of) TOML.
        case syntax = "syntax"
        /// A key nobody reads (a typo, or a key of another version).
        case unknownKey = "unknown-key"
        /// A value of the wrong type (a number where a string belongs).
        case wrongType = "wrong-type"
        /// A key that must be given is not.
        case missingKey = "missing-key"
        /// A value of the right type that is not allowed (a port out of range, a pool on the wrong network).
        case badValue = "bad-value"
        /// A file named by the configuration cannot be read or is not what it should be.
        case unreadableFile = "unreadable-file"
    }

    public var code: Code
    /// The file the problem is in, when it comes from one.
    public var file: String?
    /// 1-based line in ``file``, when known.
    public var line: Int?
    public var message: String

    public init(_ message: String, code: Code = .badValue, file: String? = nil, line: Int? = nil) {
        self.message = message
        self.code = code
        self.file = file
        self.line = line
    }

    /// The same problem, found in `file` (a line it already has is kept).
    public func located(in file: String) -> ConfigurationError {
        var located = self
        located.file = file
        return located
    }

    /// `file:line: message [code]`, with the parts there are.
    public var description: String {
        var place = ""
        if let file { place = file + (line.map { ":\($0)" } ?? "") + ": " } else if let line { place = "line \(line): " }
        return place + message + " [\(code.rawValue)]"
    }
}
