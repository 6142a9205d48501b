/// A `.cfg` or `.boot` file as an ordered list of lines (R1, R2).
///
/// Parsing never fails: every problem is kept on its line, so `lint` can report it and `resolve` can skip it
/// as the phone does. An unmodified file serializes to the bytes it was parsed from (for UTF-8 input).
public struct ConfigFile: Sendable, Hashable {
    /// The header every file must start with (R1.1).
    public static let header = "#!version:1.0.0.1"

    /// The lines, in order.
    public var lines: [ConfigLine]
    /// Whether the file started with a UTF-8 byte order mark (R1.4: warned about, stripped).
    public var hasByteOrderMark: Bool

    /// Parses a file's bytes.
    public init(bytes: some Collection<UInt8>) {
        var bytes = Array(bytes)[...]
        hasByteOrderMark = bytes.starts(with: [0xEF, 0xBB, 0xBF])
        if hasByteOrderMark { bytes = bytes.dropFirst(3) }
        var lines: [ConfigLine] = []
        var number = 0
        while !bytes.isEmpty || number == 0 {
            number += 1
            let end = bytes.firstIndex(of: 0x0A)
            var content = bytes[..<(end ?? bytes.endIndex)]
            var terminator = ConfigLine.LineTerminator.none
            if let end {
                terminator = .lf
                if content.last == 0x0D {
                    content = content.dropLast()
                    terminator = .crlf
                }
                bytes = bytes[(end + 1)...]
            } else {
                bytes = bytes[bytes.endIndex...]
            }
            if let text = String(validating: content, as: UTF8.self) {
                lines.append(ConfigFile.classify(text, number: number, terminator: terminator))
            } else {
                let text = String(decoding: content, as: UTF8.self)
                lines.append(ConfigLine(number: number, text: text, terminator: terminator, kind: .invalid(.notUTF8)))
            }
        }
        self.lines = lines
    }

    /// Parses a file's text.
    public init(text: String) {
        self.init(bytes: Array(text.utf8))
    }

    /// Builds a file from lines.
    public init(lines: [ConfigLine], hasByteOrderMark: Bool = false) {
        self.lines = lines
        self.hasByteOrderMark = hasByteOrderMark
    }

    /// The file's bytes.
    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = hasByteOrderMark ? [0xEF, 0xBB, 0xBF] : []
        for line in lines {
            bytes.append(contentsOf: line.text.utf8)
            bytes.append(contentsOf: line.terminator.rawValue.utf8)
        }
        return bytes
    }

    /// Whether the first line is the header (R1.1). A file without it is rejected by the phone.
    public var hasHeader: Bool {
        lines.first?.kind == .header
    }

    /// The settings in file order, with their lines and the model section each stands in (R1.7).
    public var settings: [(setting: ConfigSetting, line: Int, section: [String]?)] {
        var result: [(setting: ConfigSetting, line: Int, section: [String]?)] = []
        var section: [String]?
        for line in lines {
            switch line.kind {
            case .setting(let setting): result.append((setting, line.number, section))
            case .modelSection(let models): section = models
            default: break
            }
        }
        return result
    }

    /// ``kind(of:isFirst:)`` for an ASCII line that is blank, a comment or a `key = value` (nil for anything
    /// else, which the general reading takes).
    static func asciiKind(_ bytes: UnsafeBufferPointer<UInt8>) -> ConfigLine.Kind? {
        let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")
        var start = 0, end = bytes.count
        for byte in bytes where byte >= 0x80 { _ = byte; return nil }
        while start < end, bytes[start] == space || bytes[start] == tab { start += 1 }
        if start == end { return .blank }
        if bytes[start] == UInt8(ascii: "#") { return .comment }
        if bytes[start] == UInt8(ascii: "[") || bytes[start] == UInt8(ascii: "i") { return nil }
        while bytes[end - 1] == space || bytes[end - 1] == tab { end -= 1 }
        guard let equals = (start..<end).first(where: { bytes[$0] == UInt8(ascii: "=") }) else { return .invalid(.notASetting) }
        var keyEnd = equals
        while keyEnd > start, bytes[keyEnd - 1] == space || bytes[keyEnd - 1] == tab { keyEnd -= 1 }
        if keyEnd == start { return .invalid(.emptyKey) }
        let key = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<keyEnd]), as: UTF8.self)
        if (start..<keyEnd).contains(where: { bytes[$0] == space || bytes[$0] == tab }) { return .invalid(.keyHasWhitespace(key)) }
        var valueStart = equals + 1
        while valueStart < end, bytes[valueStart] == space || bytes[valueStart] == tab { valueStart += 1 }
        let value = String(decoding: UnsafeBufferPointer(rebasing: bytes[valueStart..<end]), as: UTF8.self)
        return .setting(ConfigSetting(key: key, value: value, keyColumn: start + 1, valueColumn: valueStart + 1))
    }

    /// What a line other than the first is (R1.2, R1.3, R1.7, R2.2), for text that is not read from a whole file.
    public static func kind(ofLine text: String) -> ConfigLine.Kind {
        kind(of: text, isFirst: false)
    }

    static func classify(_ text: String, number: Int, terminator: ConfigLine.LineTerminator) -> ConfigLine {
        ConfigLine(number: number, text: text, terminator: terminator, kind: kind(of: text, isFirst: number == 1))
    }

    static func kind(of text: String, isFirst: Bool) -> ConfigLine.Kind {
        // Most lines are ASCII settings: read as bytes, where a column is a byte (rendering 100,000 devices' files
        // classifies millions of lines).
        if !isFirst, let kind = text.utf8.withContiguousStorageIfAvailable({ asciiKind($0) }) ?? nil { return kind }
        if isFirst, text.hasPrefix(header), text.dropFirst(header.count).trimmingSpaces().isEmpty {
            return .header
        }
        let trimmed = text.trimmingSpaces()
        let indent = text.count - text.drop(while: { $0 == " " || $0 == "\t" }).count
        if trimmed.isEmpty { return .blank }
        if trimmed.hasPrefix("#") { return .comment }
        if trimmed.hasPrefix(IncludeStatement.keyword) {
            let rest = trimmed.dropFirst(IncludeStatement.keyword.count)
            return .include(IncludeStatement(rest: rest, offset: indent + IncludeStatement.keyword.count))
        }
        if trimmed.hasPrefix("["), trimmed.hasSuffix("]"), !trimmed.contains("=") {
            let models = trimmed.dropFirst().dropLast().split(separator: ",")
                .map { String($0.trimmingSpaces()) }.filter { !$0.isEmpty }
            return .modelSection(models)
        }
        guard let equals = trimmed.firstIndex(of: "=") else { return .invalid(.notASetting) }
        let key = trimmed[..<equals].trimmingSpaces()
        if key.isEmpty { return .invalid(.emptyKey) }
        if key.contains(where: { $0 == " " || $0 == "\t" }) { return .invalid(.keyHasWhitespace(String(key))) }
        let afterEquals = trimmed[trimmed.index(after: equals)...]
        let value = afterEquals.trimmingSpaces()
        let valueOffset = text.distance(from: text.startIndex, to: value.startIndex)
        return .setting(ConfigSetting(
            key: String(key), value: String(value), keyColumn: indent + 1, valueColumn: valueOffset + 1))
    }
}

extension ConfigFile {
    /// A file holding these settings, keys in the given order, with the header (for `resolve --format cfg`).
    public static func rendering(_ settings: [(key: String, value: String)], comments: [String] = []) -> ConfigFile {
        var lines = [ConfigLine(number: 1, text: header, terminator: .lf, kind: .header)]
        for comment in comments {
            lines.append(ConfigLine(number: lines.count + 1, text: "# " + comment, terminator: .lf, kind: .comment))
        }
        for (key, value) in settings {
            let text = value.isEmpty ? "\(key) =" : "\(key) = \(value)"
            lines.append(classify(text, number: lines.count + 1, terminator: .lf))
        }
        return ConfigFile(lines: lines)
    }
}
