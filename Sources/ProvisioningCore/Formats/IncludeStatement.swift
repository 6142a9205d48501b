/// `include:config <PATH>` or `include:config "PATH"` in a boot file (R2.2).
public struct IncludeStatement: Sendable, Hashable {
    /// The path between the delimiters, as written; nil when it could not be read.
    public let path: String?
    /// The delimiter used.
    public let delimiter: Delimiter?
    /// 1-based column of the path (of `include` when there is no path).
    public let column: Int
    /// Why the phone ignores the line, or nil for a valid include.
    public let problem: IncludeProblem?

    /// The delimiters R2.2 allows.
    public enum Delimiter: Sendable, Hashable {
        case angle
        case quote
    }

    /// The statement's keyword.
    static let keyword = "include:config"

    static let curlyQuotes: Set<Character> = ["\u{201C}", "\u{201D}", "\u{201E}", "\u{201F}", "\u{2018}",
                                              "\u{2019}", "\u{00AB}", "\u{00BB}", "\u{FF02}"]

    /// Parses the text after `include:config`; `offset` is the 0-based column where that text starts.
    init(rest: Substring, offset: Int) {
        let leading = rest.prefix(while: { $0 == " " || $0 == "\t" })
        let body = rest.dropFirst(leading.count)
        let pathColumn = offset + leading.count + 2
        if body.contains(where: { IncludeStatement.curlyQuotes.contains($0) }) {
            self.init(path: nil, delimiter: nil, column: pathColumn - 1, problem: .curlyQuote)
            return
        }
        let delimiter: Delimiter
        let closing: Character
        switch body.first {
        case "<": (delimiter, closing) = (.angle, ">")
        case "\"": (delimiter, closing) = (.quote, "\"")
        default:
            self.init(path: nil, delimiter: nil, column: pathColumn - 1, problem: .missingDelimiter)
            return
        }
        let inside = body.dropFirst()
        guard let end = inside.firstIndex(of: closing) else {
            self.init(path: nil, delimiter: delimiter, column: pathColumn, problem: .unclosed(closing))
            return
        }
        let path = String(inside[..<end])
        let trailing = inside[inside.index(after: end)...]
        let problem: IncludeProblem?
        if path.trimmingSpaces().isEmpty {
            problem = .emptyPath
        } else if !trailing.trimmingSpaces().isEmpty {
            problem = .trailingText(String(trailing.trimmingSpaces()))
        } else if !IncludeStatement.namesCFGFile(path) {
            problem = .notCFG(path)
        } else {
            problem = nil
        }
        self.init(path: path, delimiter: delimiter, column: pathColumn, problem: problem)
    }

    init(path: String?, delimiter: Delimiter?, column: Int, problem: IncludeProblem?) {
        self.path = path
        self.delimiter = delimiter
        self.column = column
        self.problem = problem
    }

    /// Whether the path's last segment (before any query) ends in `.cfg`.
    static func namesCFGFile(_ path: String) -> Bool {
        let beforeQuery = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return beforeQuery.lowercased().hasSuffix(".cfg")
    }
}

/// Why an include line is ignored (R2.2).
public enum IncludeProblem: Sendable, Hashable {
    /// Typographic quotes (“ ”), as word processors write them.
    case curlyQuote
    /// Neither `<` nor `"` after `include:config`.
    case missingDelimiter
    /// No closing `>` or `"`.
    case unclosed(Character)
    /// `<>` or `""`.
    case emptyPath
    /// Text after the closing delimiter.
    case trailingText(String)
    /// The path does not name a `.cfg` file.
    case notCFG(String)
}

extension IncludeProblem: CustomStringConvertible {
    public var description: String {
        switch self {
        case .curlyQuote: "include uses typographic quotes; write include:config \"file.cfg\" with straight quotes"
        case .missingDelimiter: "include path must be written <path> or \"path\""
        case .unclosed(let closing): "include path has no closing '\(closing)'"
        case .emptyPath: "include path is empty"
        case .trailingText(let text): "unexpected text '\(text)' after the include path"
        case .notCFG(let path): "include '\(path)' does not name a .cfg file"
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs (R1.3 trims only these).
    func trimmingSpaces() -> SubSequence {
        var result = self[...]
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}
