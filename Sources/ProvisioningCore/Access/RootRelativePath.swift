/// A path inside the provisioning root, checked so that it cannot leave it (S2).
///
/// Built from a percent-decoded request path. Refused: `..` and `.` segments, hidden names (`.versions`,
/// `.htpasswd`, temporary files), empty segments, backslashes, NUL and other control characters, and overlong paths.
/// The one place these rules live: the server, `resolve`, `lint` and FTP paths all check here. (Symbolic links are
/// the file layer's to check.)
public struct RootRelativePath: Sendable, Hashable {
    /// The longest path accepted, in bytes.
    public static let maximumLength = 1024

    /// The segments, each a plain file or directory name.
    public let segments: [String]

    /// `a/b.cfg`.
    public let path: String

    /// Checks a decoded path such as `T42G/00156543ec97.boot`; one leading `/` is allowed.
    public init(_ decoded: String) throws(RootRelativePathError) {
        guard decoded.utf8.count <= RootRelativePath.maximumLength else { throw .tooLong }
        var text = Substring(decoded)
        if text.hasPrefix("/") { text = text.dropFirst() }
        guard !text.isEmpty else { throw .empty }
        let segments = text.split(separator: "/", omittingEmptySubsequences: false)
        for segment in segments {
            if segment.isEmpty { throw .emptySegment }
            if segment == "." || segment == ".." { throw .dotSegment }
            if segment.hasPrefix(".") { throw .hiddenName }
            if segment.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                throw .controlCharacter
            }
            if segment.utf8.contains(UInt8(ascii: "\\")) { throw .backslash }
        }
        self.segments = segments.map(String.init)
        path = String(text)
    }
}

/// Why a request path is refused (S2).
public enum RootRelativePathError: Error, Sendable, Hashable, CustomStringConvertible {
    case empty, emptySegment, dotSegment, hiddenName, controlCharacter, backslash, tooLong

    public var description: String {
        switch self {
        case .empty: "path is empty"
        case .emptySegment: "path has an empty segment ('//' or a trailing '/')"
        case .dotSegment: "path has a '.' or '..' segment"
        case .hiddenName: "path has a hidden name (one starting with '.'), which is never served"
        case .controlCharacter: "path has a NUL or control character"
        case .backslash: "path has a backslash"
        case .tooLong: "path is longer than \(RootRelativePath.maximumLength) bytes"
        }
    }
}
