// Inventory: templates compiled with swift-mustache, variables with their sources, rendering of each device's files
// with provenance, and the lint of templates at save time. Uses Storage (the store) and Core (formats, rules).
import Foundation
import Mustache
import ProvisioningCore
import Storage

/// A problem with a template, at a line, and for a device when only that device's rendering shows it:
/// printed `TEMPLATE:LINE: problem` (and ` (device MAC)`).
public struct TemplateProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public var template: String
    public var line: Int
    public var message: String
    public var device: String?
    public var severity: Diagnostic.Severity
    /// What kind of problem: `template-syntax`, `unknown-variable`, or the lint code of the rendered line the phone
    /// would reject (`invalid-line`, …).
    public var code: String
    /// The column in the template line, when a lint finding gives one (1 otherwise).
    public var column: Int

    public init(template: String, line: Int, message: String, device: String? = nil, severity: Diagnostic.Severity = .error,
                code: String = "template-syntax", column: Int = 1) {
        self.template = template
        self.line = line
        self.message = message
        self.device = device
        self.severity = severity
        self.code = code
        self.column = column
    }

    public var description: String {
        "\(template):\(line): \(severity == .warning ? "warning: " : "")\(message)" + (device.map { " (device \($0))" } ?? "")
    }
}

/// One `{{name}}` use in a template: the variable, its line, and the sections around it (`#` or `^`).
public struct TemplateTag: Sendable, Hashable {
    public var name: String
    public var line: Int
    /// The enclosing sections, outermost first, each with whether it is inverted (`{{^name}}`).
    public var sections: [Section]
    /// Whether the tag opens a section rather than printing a value.
    public var isSection: Bool

    public struct Section: Sendable, Hashable {
        public var name: String
        public var inverted: Bool
    }
}

/// A template's text checked and compiled once: its variable uses by line, and a Mustache template that renders it
/// with a line marker before every newline, so each rendered line names the template line it came from.
///
/// Templates use the plain Mustache tags of CFG text: `{{name}}`, `{{{name}}}`/`{{&name}}` (the same: CFG text is
/// never HTML-escaped), sections `{{#name}}…{{/name}}` (shown when the variable is set) and `{{^name}}…{{/name}}`
/// (when it is not), and comments `{{! … }}`. Partials, blocks, pragmas and delimiter changes are refused: a
/// template is one self-contained file whose every line can be traced.
public struct CompiledTemplate: Sendable {
    public let layer: TemplateLayer
    public let text: String
    public let tags: [TemplateTag]
    let marked: MustacheTemplate
    let lineCount: Int

    /// Starts and ends a line marker in rendered text; neither may appear in a template.
    static let markStart: Character = "\u{1F}"
    static let markEnd: Character = "\u{1E}"

    public init(layer: TemplateLayer, text: String) throws(TemplateProblem) {
        self.layer = layer
        let text = text.contains("\r\n") ? text.replacingOccurrences(of: "\r\n", with: "\n") : text
        self.text = text
        let scan = try TagScanner.scan(text, template: layer.path)
        tags = scan.tags
        lineCount = scan.lines
        let source = "{{% CONTENT_TYPE: TEXT}}" + scan.marked
        do {
            marked = try MustacheTemplate(string: source)
        } catch let error as MustacheTemplate.ParserError {
            throw TemplateProblem(template: layer.path, line: error.context.lineNumber,
                                  message: "template does not parse (\(error.error))")
        } catch {
            throw TemplateProblem(template: layer.path, line: 1, message: "template does not parse (\(error))")
        }
    }

    /// Every variable the template names, in sections or values.
    public var names: Set<String> { Set(tags.map(\.name)) }

    /// The rendered lines, each with the template line it ends on (its newline's line). Read as bytes: the markers
    /// and newlines are ASCII, so their byte positions are also the text's.
    func render(_ scope: VariableScope) -> [(text: Substring, line: Int)] {
        let output = marked.render(scope)
        let utf8 = output.utf8
        var lines: [(text: Substring, line: Int)] = []
        var start = utf8.startIndex
        while true {
            let newline = utf8[start...].firstIndex(of: 0x0A) ?? utf8.endIndex
            // Every newline carries a marker; only the text after the last one has none: the template's last line.
            var pieces: [Range<String.Index>] = []
            var line: Int?
            var cursor = start, pieceStart = start
            while cursor < newline {
                guard utf8[cursor] == 0x1F else {
                    cursor = utf8.index(after: cursor)
                    continue
                }
                if pieceStart < cursor { pieces.append(pieceStart..<cursor) }
                var number = 0
                cursor = utf8.index(after: cursor)
                while cursor < newline, utf8[cursor] != 0x1E {
                    // Only the scanner writes markers (a template holds none, a value's control characters are
                    // spaces); were one forged, it would name a wrong line, never trap.
                    let digit = Int(utf8[cursor]) - 0x30
                    if (0...9).contains(digit), number < lineCount { number = number * 10 + digit }
                    cursor = utf8.index(after: cursor)
                }
                if cursor < newline { cursor = utf8.index(after: cursor) }
                line = number
                pieceStart = cursor
            }
            if pieceStart < newline { pieces.append(pieceStart..<newline) }
            let text: Substring = switch pieces.count {
            case 0: ""
            case 1: output[pieces[0]]
            default: Substring(pieces.map { output[$0] }.joined())
            }
            if let line {
                lines.append((text, line))
            } else if !text.isEmpty {
                lines.append((text, lineCount))
            }
            guard newline < utf8.endIndex else { break }
            start = utf8.index(after: newline)
        }
        return lines
    }
}

/// Reads a template's tags by line, refusing what a CFG template may not use, and writes the marked text.
enum TagScanner {
    struct Result {
        var tags: [TemplateTag] = []
        var marked = ""
        var lines = 1
    }

    static func scan(_ text: String, template: String) throws(TemplateProblem) -> Result {
        func problem(_ line: Int, _ message: String) -> TemplateProblem {
            TemplateProblem(template: template, line: line, message: message)
        }
        var result = Result()
        // The line markers are these two characters: none may come from the template, in its text or in a tag.
        if let marker = text.firstIndex(where: { $0 == CompiledTemplate.markStart || $0 == CompiledTemplate.markEnd }) {
            throw problem(text[..<marker].count(where: { $0 == "\n" }) + 1, "control character U+001E or U+001F in the template")
        }
        result.marked.reserveCapacity(text.utf8.count + text.utf8.count / 8)
        var sections: [(section: TemplateTag.Section, line: Int)] = []
        var line = 1
        var rest = Substring(text)
        while !rest.isEmpty {
            let open = rest.range(of: "{{")
            let plainEnd = open?.lowerBound ?? rest.endIndex
            for character in rest[..<plainEnd] {
                if character == "\n" {
                    result.marked.append(CompiledTemplate.markStart)
                    result.marked += String(line)
                    result.marked.append(CompiledTemplate.markEnd)
                    line += 1
                }
                result.marked.append(character)
            }
            guard let open else { break }
            let triple = rest[open.upperBound...].hasPrefix("{")
            let closer = triple ? "}}}" : "}}"
            let bodyStart = triple ? rest.index(after: open.upperBound) : open.upperBound
            // A tag ends on its own line: one that runs on is a tag left open.
            let lineEnd = rest[bodyStart...].firstIndex(of: "\n") ?? rest.endIndex
            guard let close = rest[bodyStart..<lineEnd].range(of: closer) else {
                throw problem(line, "unclosed tag: '{{' without '\(closer)' on its line")
            }
            let body = rest[bodyStart..<close.lowerBound]
            let tagLine = line
            result.marked += rest[open.lowerBound..<close.upperBound]
            rest = rest[close.upperBound...]
            let trimmed = body.trimmingSpaces()
            guard let sigil = trimmed.first else { throw problem(tagLine, "empty tag '{{}}'") }
            if triple {
                try name(trimmed, line: tagLine, sections: sections, into: &result, template: template)
                continue
            }
            let named = trimmed.dropFirst().trimmingSpaces()
            switch sigil {
            case "!":
                continue
            case "#", "^":
                try name(named, line: tagLine, sections: sections, into: &result, template: template, isSection: true)
                sections.append((TemplateTag.Section(name: String(named), inverted: sigil == "^"), tagLine))
            case "/":
                guard let last = sections.popLast() else {
                    throw problem(tagLine, "'{{/\(named)}}' closes no section")
                }
                guard last.section.name == named else {
                    throw problem(tagLine, "'{{/\(named)}}' closes section '\(last.section.name)' opened on line \(last.line)")
                }
            case "&":
                try name(named, line: tagLine, sections: sections, into: &result, template: template)
            case ">", "<", "$", "=", "%":
                throw problem(tagLine, "'{{\(sigil)…}}' tags (partials, blocks, delimiters, pragmas) are not used in CFG templates")
            default:
                try name(trimmed, line: tagLine, sections: sections, into: &result, template: template)
            }
        }
        result.lines = line
        if let open = sections.last {
            throw problem(open.line, "section '\(open.section.name)' is never closed (no '{{/\(open.section.name)}}')")
        }
        return result
    }

    private static func name(_ name: Substring, line: Int, sections: [(section: TemplateTag.Section, line: Int)],
                             into result: inout Result, template: String, isSection: Bool = false) throws(TemplateProblem) {
        guard InventoryNames.isVariableName(String(name)) else {
            throw TemplateProblem(template: template, line: line,
                                  message: "'\(name)' is not a variable name (a letter or '_', then letters, digits, '_')")
        }
        result.tags.append(TemplateTag(name: String(name), line: line, sections: sections.map(\.section), isSection: isSection))
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var text = self
        while let first = text.first, first.isWhitespace { text = text.dropFirst() }
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return text
    }
}
