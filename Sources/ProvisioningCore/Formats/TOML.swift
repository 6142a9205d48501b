import ProvisioningCore

/// The subset of TOML that `autoprov.toml` uses: tables, arrays of tables, strings, integers, booleans and
/// one-line arrays. Anything else is an error naming the line.
public enum TOMLValue: Sendable, Hashable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case array([TOMLValue])
    case table([String: TOMLValue])
    case tableArray([[String: TOMLValue]])
}

public enum TOML {
    /// Parses a document into its root table.
    public static func parse(_ text: String) throws(ConfigurationError) -> [String: TOMLValue] {
        var root: [String: TOMLValue] = [:]
        var current: [String] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var scanner = Scanner(Substring(rawLine), line: number)
            scanner.skipSpaces()
            if scanner.atEndOrComment { continue }
            if scanner.peek == "[" {
                let isArray = scanner.rest.hasPrefix("[[")
                scanner.advance(isArray ? 2 : 1)
                let path = try scanner.readKeyPath()
                guard scanner.consume(isArray ? "]]" : "]") else { throw scanner.error("expected '\(isArray ? "]]" : "]")'") }
                scanner.skipSpaces()
                guard scanner.atEndOrComment else { throw scanner.error("unexpected text after table header") }
                current = path
                if isArray {
                    try appendTable(at: path, in: &root, line: number)
                } else {
                    try ensureTable(at: path, in: &root, line: number)
                }
                continue
            }
            let keys = try scanner.readKeyPath()
            scanner.skipSpaces()
            guard scanner.consume("=") else { throw scanner.error("expected '=' after the key") }
            scanner.skipSpaces()
            let value = try scanner.readValue()
            scanner.skipSpaces()
            guard scanner.atEndOrComment else { throw scanner.error("unexpected text after the value") }
            try set(value, at: current + keys, in: &root, line: number)
        }
        return root
    }

    private static func ensureTable(at path: [String], in table: inout [String: TOMLValue], line: Int) throws(ConfigurationError) {
        guard let first = path.first else { return }
        switch table[first] {
        case nil:
            var inner: [String: TOMLValue] = [:]
            try ensureTable(at: Array(path.dropFirst()), in: &inner, line: line)
            table[first] = .table(inner)
        case .table(var inner):
            try ensureTable(at: Array(path.dropFirst()), in: &inner, line: line)
            table[first] = .table(inner)
        case .tableArray(var array):
            var last = array.removeLast()
            try ensureTable(at: Array(path.dropFirst()), in: &last, line: line)
            array.append(last)
            table[first] = .tableArray(array)
        default:
            throw ConfigurationError("'\(first)' is already a value, not a table", code: .syntax, line: line)
        }
    }

    private static func appendTable(at path: [String], in table: inout [String: TOMLValue], line: Int) throws(ConfigurationError) {
        let first = path[0]
        if path.count == 1 {
            switch table[first] {
            case nil: table[first] = .tableArray([[:]])
            case .tableArray(let array): table[first] = .tableArray(array + [[:]])
            default: throw ConfigurationError("'\(first)' is already defined and is not an array of tables", code: .syntax, line: line)
            }
            return
        }
        switch table[first] {
        case nil:
            var inner: [String: TOMLValue] = [:]
            try appendTable(at: Array(path.dropFirst()), in: &inner, line: line)
            table[first] = .table(inner)
        case .table(var inner):
            try appendTable(at: Array(path.dropFirst()), in: &inner, line: line)
            table[first] = .table(inner)
        default:
            throw ConfigurationError("'\(first)' is not a table", code: .syntax, line: line)
        }
    }

    /// Sets a value; a table array on the way means its last table (TOML's rule for `[[…]]`).
    private static func set(_ value: TOMLValue, at path: [String], in table: inout [String: TOMLValue],
                            line: Int) throws(ConfigurationError) {
        let first = path[0]
        if path.count == 1 {
            guard table[first] == nil else { throw ConfigurationError("'\(first)' is defined twice", code: .syntax, line: line) }
            table[first] = value
            return
        }
        let rest = Array(path.dropFirst())
        switch table[first] {
        case nil:
            var inner: [String: TOMLValue] = [:]
            try set(value, at: rest, in: &inner, line: line)
            table[first] = .table(inner)
        case .table(var inner):
            try set(value, at: rest, in: &inner, line: line)
            table[first] = .table(inner)
        case .tableArray(var array):
            var last = array.removeLast()
            try set(value, at: rest, in: &last, line: line)
            array.append(last)
            table[first] = .tableArray(array)
        default:
            throw ConfigurationError("'\(first)' is already a value, not a table", code: .syntax, line: line)
        }
    }

    struct Scanner {
        var rest: Substring
        let line: Int

        init(_ text: Substring, line: Int) {
            rest = text.hasSuffix("\r") ? text.dropLast() : text
            self.line = line
        }

        var peek: Character? { rest.first }
        var atEndOrComment: Bool { rest.isEmpty || rest.first == "#" }

        mutating func advance(_ count: Int) { rest = rest.dropFirst(count) }

        mutating func skipSpaces() {
            rest = rest.drop(while: { $0 == " " || $0 == "\t" })
        }

        mutating func consume(_ text: String) -> Bool {
            guard rest.hasPrefix(text) else { return false }
            rest = rest.dropFirst(text.count)
            return true
        }

        func error(_ message: String) -> ConfigurationError {
            ConfigurationError(message, code: .syntax, line: line)
        }

        mutating func readKeyPath() throws(ConfigurationError) -> [String] {
            var keys: [String] = []
            repeat {
                skipSpaces()
                if peek == "\"" {
                    keys.append(try readBasicString())
                } else {
                    let key = rest.prefix(while: { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
                    guard !key.isEmpty else { throw error("expected a key") }
                    keys.append(String(key))
                    advance(key.count)
                }
                skipSpaces()
            } while consume(".")
            return keys
        }

        mutating func readValue() throws(ConfigurationError) -> TOMLValue {
            switch peek {
            case "\"": return .string(try readBasicString())
            case "'":
                advance(1)
                guard let end = rest.firstIndex(of: "'") else { throw error("unterminated string") }
                let value = String(rest[..<end])
                rest = rest[rest.index(after: end)...]
                return .string(value)
            case "[":
                advance(1)
                var values: [TOMLValue] = []
                skipSpaces()
                while !consume("]") {
                    values.append(try readValue())
                    skipSpaces()
                    if consume(",") { skipSpaces(); continue }
                    guard consume("]") else { throw error("expected ',' or ']' in the array") }
                    break
                }
                return .array(values)
            default:
                let token = rest.prefix(while: { !" \t#,]".contains($0) })
                advance(token.count)
                if token == "true" { return .boolean(true) }
                if token == "false" { return .boolean(false) }
                if let number = Int(token.replacingUnderscores()) { return .integer(number) }
                throw error(token.isEmpty ? "expected a value" : "'\(token)' is not a string, integer or boolean")
            }
        }

        mutating func readBasicString() throws(ConfigurationError) -> String {
            advance(1)
            var value = ""
            while let character = peek {
                advance(1)
                switch character {
                case "\"": return value
                case "\\":
                    guard let escaped = peek else { throw error("unterminated string") }
                    advance(1)
                    switch escaped {
                    case "\"": value.append("\"")
                    case "\\": value.append("\\")
                    case "n": value.append("\n")
                    case "t": value.append("\t")
                    case "r": value.append("\r")
                    case "u":
                        let hex = rest.prefix(4)
                        guard hex.count == 4, let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                            throw error("bad \\u escape")
                        }
                        value.unicodeScalars.append(scalar)
                        advance(4)
                    default: throw error("unknown escape '\\\(escaped)'")
                    }
                default:
                    value.append(character)
                }
            }
            throw error("unterminated string")
        }
    }
}

extension Substring {
    func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
