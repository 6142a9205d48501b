import Foundation
import Testing
import TestSupport

@Suite("autoprov lint (end to end)", .blocking, .timeLimit(.minutes(5)))
struct LintCommandTests {
    @Test("a tree written as the Guide says has no findings and exits 0")
    func cleanTree() throws {
        let tree = try FixtureTree("guide")
        let result = try CommandRunner.run(["lint", tree.path])
        #expect(result.status == 0)
        #expect(result.stdout == "")
    }

    @Test("a broken tree: one line per finding with path, line, column, severity and code; exit 1")
    func brokenTree() throws {
        let tree = try FixtureTree("broken")
        let result = try CommandRunner.run(["lint", "."], in: tree.url)
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let expected = [
            "./00156574B150-local.cfg:1:1: warning: ", "[bad-filename]",
            "./00156574B150-local.cfg:2:1: warning: ", "[static-in-local]",
            "./00156574b150.cfg:1:1: error: ", "[missing-header]",
            "./y000000000000.boot:2:16: error: ", "[curly-quote]",
            "./y000000000000.boot:3:17: warning: ", "[missing-include]",
            "./y000000000000.boot:4:17: error: ", "[bad-include]",
            "./y000000000000.boot:5:18: error: ", "[bad-overwrite-mode]",
            "./y000000000000.boot:6:1: warning: ", "[boot-setting-ignored]",
            "./y000000000029.cfg:2:1: warning: ", "[account-out-of-range]",
            "./y000000000029.cfg:3:40: error: ", "[bad-aes-key]",
            "./y000000000029.cfg:4:31: error: ", "[bad-activation-code]",
            "./y000000000029.cfg:6:1: error: ", "[overwrite-outside-boot]",
            "./y000000000029.cfg:7:1: error: ", "[invalid-line]",
            "./y000000000029.cfg:9:1: warning: ", "[duplicate-key]",
        ]
        #expect(lines.count == expected.count / 2, "\(result.stdout)")
        for (index, line) in lines.enumerated() where index * 2 + 1 < expected.count {
            #expect(line.hasPrefix(expected[index * 2]), "\(line)")
            #expect(line.hasSuffix(expected[index * 2 + 1]), "\(line)")
        }
        #expect(result.stderr == "8 errors and 6 warnings in 4 files\n")
    }

    @Test("--format json prints the same findings as objects")
    func json() throws {
        let tree = try FixtureTree("broken")
        let text = try CommandRunner.run(["lint", tree.path])
        let result = try CommandRunner.run(["lint", "--format", "json", tree.path])
        #expect(result.status == 1)
        let array = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(array.count == text.stdout.split(separator: "\n").count)
        for object in array {
            #expect(Set(object.keys) == ["path", "line", "column", "severity", "code", "message"])
        }
        let first = try #require(array.first)
        #expect(first["code"] as? String == "bad-filename")
        #expect(first["line"] as? Int == 1)
        #expect((first["path"] as? String)?.hasSuffix("00156574B150-local.cfg") == true)
    }

    @Test("single files, warnings only: exit 0")
    func warningsOnly() throws {
        let tree = try FixtureTree("broken")
        let result = try CommandRunner.run(["lint", tree.file("00156574B150-local.cfg").path])
        #expect(result.status == 0)
        #expect(result.stdout.split(separator: "\n").count == 2)
    }

    @Test("a path that does not exist: one line on stderr, exit 2")
    func missingPath() throws {
        let result = try CommandRunner.run(["lint", "/nonexistent/autoprov-tree"])
        #expect(result.status == 2)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("/nonexistent/autoprov-tree"))
    }
}
