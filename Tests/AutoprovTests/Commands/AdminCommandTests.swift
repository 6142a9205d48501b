import Foundation
import Testing
import TestSupport

/// `autoprov admin user` and `admin token` through the built binary.
@Suite("autoprov admin user and token (end to end)", .blocking, .timeLimit(.minutes(3)))
struct AdminCommandTests {
    @Test("accounts: stored as PBKDF2-HMAC-SHA256 (600,000 rounds, a 16-byte salt of their own) that Python's hashlib recomputes; never the password")
    func accounts() async throws {
        let data = InventoryCommandTests.DataFolder()
        let work = data.url.appendingPathExtension("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let password = work.appendingPathComponent("password")
        try "correct horse battery\nignored second line\n".write(to: password, atomically: true, encoding: .utf8)
        let added = try await data.run(["admin", "user", "add", "alice", "--role", "write", "--password-file", password.path])
        #expect(added.status == 0 && added.stdout == "account alice added (write)\n", "\(added.stderr)")
        #expect(try await data.run(["admin", "user", "add", "bob", "--password-file", password.path]).status == 0)
        let twice = try await data.run(["admin", "user", "add", "alice", "--password-file", password.path])
        #expect(twice.status == 2 && twice.stderr.contains("already exists"), "\(twice.stderr)")
        try "short\n".write(to: password, atomically: true, encoding: .utf8)
        let short = try await data.run(["admin", "user", "add", "carol", "--password-file", password.path])
        #expect(short.status == 2 && short.stderr.contains("at least 8 characters"), "\(short.stderr)")
        let listed = try await data.run(["admin", "user", "list"]).stdout
        #expect(listed.contains("alice  write") && listed.contains("bob  read") && !listed.contains("carol"), "\(listed)")

        // An independent implementation agrees with what is stored, and the password itself is nowhere.
        let database = data.url.appendingPathComponent("inventory.sqlite").path
        let checked = try Client.run("python3", ["-c", """
            import hashlib, sqlite3, sys
            row = sqlite3.connect(sys.argv[1]).execute(
                "SELECT scheme, rounds, salt, hash FROM adminUser WHERE name = 'alice'").fetchone()
            scheme, rounds, salt, stored = row
            ok = hashlib.pbkdf2_hmac("sha256", b"correct horse battery", salt, rounds, 32) == stored
            wrong = hashlib.pbkdf2_hmac("sha256", b"correct horse battery!", salt, rounds, 32) == stored
            print(scheme, rounds, len(salt), ok, wrong)
            """, database])
        #expect(checked.stdout == "pbkdf2-sha256 600000 16 True False\n", "\(checked.stdout)\(checked.stderr)")
        let salts = try Client.run("python3", ["-c", """
            import sqlite3, sys
            print(len({row[0] for row in sqlite3.connect(sys.argv[1]).execute("SELECT salt FROM adminUser")}))
            """, database])
        #expect(salts.stdout == "2\n", "each account has a salt of its own")
        #expect(try Client.run("grep", ["-rl", "correct horse", data.url.path]).stdout.isEmpty)

        #expect(try await data.run(["admin", "user", "rm", "bob"]).status == 0)
        #expect(try await data.run(["admin", "user", "rm", "bob"]).status == 2)
        #expect(!(try await data.run(["admin", "user", "list"]).stdout.contains("bob")))
    }
}
