/// One finding about a file: where, how bad, a stable code and a message an administrator can act on.
public struct Diagnostic: Sendable, Hashable, Codable {
    /// 1-based line.
    public var line: Int
    /// 1-based column.
    public var column: Int
    public var severity: Severity
    /// A stable identifier (`missing-header`, `bad-include`, …) that scripts may rely on.
    public var code: String
    public var message: String

    public init(line: Int, column: Int, severity: Severity, code: String, message: String) {
        self.line = line
        self.column = column
        self.severity = severity
        self.code = code
        self.message = message
    }

    /// How bad a finding is: an error means the phone will not do what the file says.
    public enum Severity: String, Sendable, Hashable, Codable, Comparable {
        case warning
        case error

        public static func < (lhs: Self, rhs: Self) -> Bool {
            lhs == .warning && rhs == .error
        }
    }
}
