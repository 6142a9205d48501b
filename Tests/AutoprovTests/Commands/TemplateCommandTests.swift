import Foundation
import Testing

/// `autoprov template` through the built binary.
@Suite("autoprov template import, export, list (end to end)", .timeLimit(.minutes(5)))
struct TemplateCommandTests {
    @Test("a folder imports all or nothing, saves versions only for changed text, and exports as it came")
    func importExport() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-templates-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let data = work.appendingPathComponent("data").path
        func run(_ arguments: [String]) async throws -> CommandRunner.Result {
            try await CommandRunner.runOnOwnThread(arguments + ["--data", data])
        }
        let folder = work.appendingPathComponent("templates")
        let files = ["defaults.cfg": "#!version:1.0.0.1\nlocal_time.time_zone = +1\n",
                     "models/SIP-T46S.cfg": "#!version:1.0.0.1\nlinekey.1.type = 15\n",
                     "groups/sales.cfg": "#!version:1.0.0.1\naccount.1.label = Sales\n",
                     "devices/00-15-65-74-B1-50.cfg": "#!version:1.0.0.1\naccount.1.user_name = 201\n",
                     "notes.txt": "not a template\n"]
        for (path, text) in files {
            let file = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        // Nothing is saved while one file is wrong: an unknown place, a group and a device not in the inventory.
        let refused = try await run(["template", "import", folder.path])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("devices/00-15-65-74-B1-50.cfg: '00-15-65-74-B1-50' is not a device in the inventory"))
        #expect(refused.stderr.contains("groups/sales.cfg: no group 'sales'") && refused.stderr.contains("notes.txt: not a template place"))
        #expect(refused.stderr.hasSuffix("autoprov: error: \(folder.path): 3 problem(s); nothing was saved\n"), "\(refused.stderr)")
        #expect(try await run(["template", "list"]).stdout == "TEMPLATE  VERSION  SAVED  LINES\n")

        try FileManager.default.removeItem(at: folder.appendingPathComponent("notes.txt"))
        _ = try await run(["group", "add", "sales"])
        _ = try await run(["device", "add", "00156574b150", "--model", "T46S", "--group", "sales"])
        #expect(try await run(["template", "import", folder.path]).stdout == "\(folder.path): 4 saved, 0 unchanged\n")
        #expect(try await run(["template", "import", folder.path]).stdout == "\(folder.path): 0 saved, 4 unchanged\n")
        try "#!version:1.0.0.1\nlocal_time.time_zone = +2\n".write(to: folder.appendingPathComponent("defaults.cfg"),
                                                                  atomically: true, encoding: .utf8)
        #expect(try await run(["template", "import", folder.path]).stdout == "\(folder.path): 1 saved, 3 unchanged\n")
        let history = try await run(["template", "list", "--history", "defaults.cfg"]).stdout
        #expect(history.split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
                    == ["TEMPLATE VERSION", "defaults.cfg 1", "defaults.cfg 2"], "\(history)")

        // Exported under the catalog's model name and the canonical MAC, with the latest text.
        let out = work.appendingPathComponent("out")
        #expect(try await run(["template", "export", out.path]).status == 0)
        let exported = try FileManager.default.subpathsOfDirectory(atPath: out.path).filter { $0.hasSuffix(".cfg") }.sorted()
        #expect(exported == ["defaults.cfg", "devices/00156574b150.cfg", "groups/sales.cfg", "models/T46S.cfg"])
        #expect(try String(contentsOf: out.appendingPathComponent("defaults.cfg"), encoding: .utf8)
                    == "#!version:1.0.0.1\nlocal_time.time_zone = +2\n")
        #expect(try await run(["template", "import", out.path]).stdout == "\(out.path): 0 saved, 4 unchanged\n")
    }
}
