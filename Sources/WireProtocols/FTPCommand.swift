import Foundation

/// One command line from the control connection (RFC 959 §4.1, §5.3): a verb and its argument.
public struct FTPCommand: Sendable, Equatable {
    /// Upper case (RFC 959 §5.3: verbs are case-insensitive).
    public var verb: String
    /// Everything after the first space, unchanged (a path may contain spaces).
    public var argument: String

    public init(verb: String, argument: String) {
        self.verb = verb
        self.argument = argument
    }

    /// Parses a line without its CRLF; nil for an empty line or a verb that is not 3–4 ASCII letters.
    public init?(line: String) {
        let trimmed = line.hasSuffix("\r") ? String(line.dropLast()) : line
        let verbText = trimmed.prefix { $0 != " " }
        guard (3...4).contains(verbText.count), verbText.allSatisfy({ $0.isASCII && $0.isLetter }) else { return nil }
        verb = verbText.uppercased()
        argument = trimmed.count > verbText.count ? String(trimmed.dropFirst(verbText.count + 1)) : ""
    }
}

extension FTPCommand {
    /// A command line's text from its bytes (without the LF), after the Telnet signals a client may send before
    /// it (RFC 959 §4.1.3: `IAC IP`, `IAC DM` before ABOR; the DM itself often travels as urgent data and is
    /// missing from the stream).
    public static func text<Bytes: Collection>(of bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var rest = bytes[...]
        while let first = rest.first, first >= 0xF0 {
            rest = rest.dropFirst()
            // IAC followed by a command byte: both go.
            if first == 0xFF, let next = rest.first, next >= 0xF0 { rest = rest.dropFirst() }
        }
        return String(decoding: rest, as: UTF8.self)
    }

    /// Whether a command line (bytes, without the LF) is ABOR, which may interrupt a transfer under way.
    public static func isAbort<Bytes: Collection>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        FTPCommand(line: text(of: bytes))?.verb == "ABOR"
    }
}

/// A reply (RFC 959 §4.2): a code and one or more lines of text.
public struct FTPReply: Sendable, Equatable {
    public var code: Int
    public var lines: [String]

    public init(_ code: Int, _ text: String) {
        self.code = code
        lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// `123 text` or, for several lines, `123-first … 123 last` (RFC 959 §4.2).
    public var wire: String {
        // A reply line never carries a bare CR or LF from a file name into the control connection.
        let clean = lines.map { $0.replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: "") }
        if clean.count == 1 { return "\(code) \(clean[0])\r\n" }
        var text = "\(code)-\(clean[0])\r\n"
        for line in clean.dropFirst().dropLast() { text += " \(line)\r\n" }
        return text + "\(code) \(clean.last!)\r\n"
    }
}

/// Paths as an FTP client sees them: absolute, `/`-separated, rooted at the provisioning root. `..` stops at the
/// root, as in a chroot, so no argument can name anything outside it.
public enum FTPPath {
    /// Resolves `argument` against the working directory `current`; the result starts with `/` and has no `.`,
    /// `..` or empty segments.
    public static func resolve(_ argument: String, from current: String) -> String {
        let start = argument.hasPrefix("/") ? [] : current.split(separator: "/").map(String.init)
        var segments = start
        for segment in argument.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": if !segments.isEmpty { segments.removeLast() }
            default: segments.append(String(segment))
            }
        }
        return "/" + segments.joined(separator: "/")
    }

    /// A path quoted for a 257 reply (RFC 959 appendix II: `"` doubled).
    public static func quoted(_ path: String) -> String {
        "\"" + path.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// A directory entry, for LIST, NLST, MLSD and MLST.
public struct FTPEntry: Sendable, Equatable {
    public var name: String
    public var isDirectory: Bool
    public var size: Int
    public var modified: Date

    public init(name: String, isDirectory: Bool, size: Int, modified: Date) {
        self.name = name
        self.isDirectory = isDirectory
        self.size = size
        self.modified = modified
    }

    /// `ls -l` form, which every client parses.
    public func listLine(now: Date) -> String {
        let calendar = FTPEntry.calendar
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: modified)
        let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][parts.month! - 1]
        let day = parts.day! < 10 ? " \(parts.day!)" : "\(parts.day!)"
        // Within six months: the time of day; older: the year (as ls does).
        let recent = abs(now.timeIntervalSince(modified)) < 182 * 86400
        let tail = recent ? String(format: "%02d:%02d", parts.hour!, parts.minute!) : " \(parts.year!)"
        let mode = isDirectory ? "drwxr-xr-x" : "-rw-r--r--"
        let sizeText = String(size)
        let padded = String(repeating: " ", count: max(0, 12 - sizeText.count)) + sizeText
        return "\(mode) 1 ftp ftp \(padded) \(month) \(day) \(tail) \(name)"
    }

    /// RFC 3659 §7 facts: `type=file;size=N;modify=YYYYMMDDHHMMSS; name`.
    public func machineLine() -> String {
        "type=\(isDirectory ? "dir" : "file");" + (isDirectory ? "" : "size=\(size);")
            + "modify=\(FTPEntry.timestamp(modified)); \(name)"
    }

    /// `YYYYMMDDHHMMSS` in UTC (RFC 3659 §2.3).
    public static func timestamp(_ date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02d%02d%02d%02d", parts.year!, parts.month!, parts.day!, parts.hour!,
                      parts.minute!, parts.second!)
    }

    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}

/// `PORT h1,h2,h3,h4,p1,p2` (RFC 959) and `EPRT |1|addr|port|` (RFC 2428) arguments.
public enum FTPHostPort {
    public static func parsePORT(_ argument: String) -> (host: String, port: Int)? {
        let numbers = argument.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard numbers.count == 6, numbers.allSatisfy({ $0 != nil && (0...255).contains($0!) }) else { return nil }
        let values = numbers.map { $0! }
        let port = values[4] * 256 + values[5]
        guard port > 0 else { return nil }
        return (values[0..<4].map(String.init).joined(separator: "."), port)
    }

    public static func parseEPRT(_ argument: String) -> (host: String, port: Int)? {
        guard let delimiter = argument.first else { return nil }
        let fields = argument.split(separator: delimiter, omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0].isEmpty, fields[4].isEmpty, ["1", "2"].contains(fields[1]),
              let port = Int(fields[3]), (1...65535).contains(port), !fields[2].isEmpty
        else { return nil }
        return (String(fields[2]), port)
    }

    /// `h1,h2,h3,h4,p1,p2` for a 227 reply.
    public static func formatPASV(host: String, port: Int) -> String {
        host.split(separator: ".").joined(separator: ",") + ",\(port / 256),\(port % 256)"
    }
}
