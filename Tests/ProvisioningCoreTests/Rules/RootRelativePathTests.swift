import ProvisioningCore
import Testing

/// S2 in one place: every rule a request path must meet before any file is looked at.
@Suite("RootRelativePath (S2)", .timeLimit(.minutes(2)))
struct RootRelativePathTests {
    @Test("accepted paths keep their segments; one leading slash is allowed", arguments: [
        ("00156574b150.cfg", ["00156574b150.cfg"]), ("/T46G/y000000000028.cfg", ["T46G", "y000000000028.cfg"]),
        ("a/b/c.cfg", ["a", "b", "c.cfg"]), ("a%2f..", ["a%2f.."]), ("~", ["~"]), ("a..b.cfg", ["a..b.cfg"]),
        ("HTTP Directory/s.cfg", ["HTTP Directory", "s.cfg"]),
    ])
    func accepted(_ text: String, _ segments: [String]) throws {
        #expect(try RootRelativePath(text).segments == segments)
    }

    @Test("refused paths say why", arguments: [
        ("", RootRelativePathError.empty), ("/", .empty), ("a//b", .emptySegment), ("a/", .emptySegment),
        ("..", .dotSegment), ("a/../b", .dotSegment), ("./a", .dotSegment), (".versions/x.cfg", .hiddenName),
        ("a/.htpasswd", .hiddenName), (".x.cfg.tmp", .hiddenName), ("a\u{0}b", .controlCharacter),
        ("a\nb", .controlCharacter), ("a\\..\\b", .backslash), ("..\\a.cfg", .hiddenName), ("//etc/passwd", .emptySegment),
        ("../a.cfg", .dotSegment), ("a/../../b", .dotSegment),
        (String(repeating: "a", count: RootRelativePath.maximumLength + 1), .tooLong),
    ])
    func refused(_ text: String, _ reason: RootRelativePathError) {
        #expect(throws: reason) { try RootRelativePath(text) }
    }
}
