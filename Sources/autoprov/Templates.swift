import ArgumentParser
import Foundation
import Inventory
import ProvisioningCore
import Storage

/// `autoprov template …`: the layered templates devices' files will be rendered from, kept with every version.
struct TemplateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template",
        abstract: "Import, export and list the templates (every saved version is kept).",
        subcommands: [Import.self, Export.self, List.self, Lint.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Save the templates of a folder, all or nothing: a new version of each one whose text changed.",
            discussion: """
                The folder holds defaults.cfg (every phone), models/<model>.cfg (a catalog model; R7.3 spellings \\
                are accepted), groups/<group>.cfg and devices/<mac>.cfg (a group or device in the inventory).
                """)
        @OptionGroup var store: InventoryOptions
        @Argument(help: "The template folder.") var folder: String

        func run() throws {
            try reportingFailures {
                let editor = try store.editor()
                let found = try TemplateFolder.read(folder, editor: editor)
                let files = Dictionary(uniqueKeysWithValues: found.map { ($0.layer.path, $0.file) })
                // A problem is named by the file it is in, for templates of this folder.
                let naming = { (problem: TemplateProblem) in
                    var named = problem
                    named.template = files[problem.template] ?? problem.template
                    return named.description
                }
                let saved: Int
                do {
                    let outcome = try editor.saveTemplates(Dictionary(uniqueKeysWithValues: found.map { ($0.layer, $0.text) }))
                    if !outcome.warnings.isEmpty {
                        FileHandle.standardError.write(Data((outcome.warnings.map(naming).joined(separator: "\n") + "\n").utf8))
                    }
                    saved = outcome.saved
                } catch InventoryEditor.Refusal.templates(let problems) {
                    FileHandle.standardError.write(Data((problems.map(naming).joined(separator: "\n") + "\n").utf8))
                    let errors = problems.filter { $0.severity == .error }.count
                    throw UsageFailure("\(folder): \(errors) template error(s); nothing was saved")
                }
                emit("\(folder): \(saved) saved, \(found.count - saved) unchanged\n")
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the latest version of every template into a folder.")
        @OptionGroup var store: InventoryOptions
        @Argument(help: "The folder to write (made when missing).") var folder: String

        func run() throws {
            try reportingFailures {
                let root = URL(fileURLWithPath: folder)
                let templates = try store.open().templates()
                do {
                    for template in templates {
                        let file = root.appendingPathComponent(template.layer.path)
                        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(),
                                                                withIntermediateDirectories: true)
                        try template.text.write(to: file, atomically: true, encoding: .utf8)
                    }
                } catch {
                    throw UsageFailure("\(folder): cannot write the templates (\(error))")
                }
            }
        }
    }

    struct Lint: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every template against every file it renders, as a save does.",
            discussion: """
                Prints TEMPLATE:LINE: problem (and the device when only its rendering shows it) for each problem: a tag \\
                that does not parse, an unknown variable, a rendered line the phone would reject (the lint codes \\
                of 'autoprov lint'). Exits 1 when any is an error.
                """)
        @OptionGroup var store: InventoryOptions

        func run() throws {
            try reportingFailures {
                let snapshot = try store.snapshot(try store.open())
                let problems = snapshot.lint(serverURL: try store.settings().templateServerURL)
                for problem in problems { emit("\(problem)\n") }
                let errors = problems.filter { $0.severity == .error }.count
                emit("\(snapshot.renderer.templates.count) template(s), \(snapshot.devices.count) device(s): "
                     + "\(errors) error(s), \(problems.count - errors) warning(s)\n")
                if errors > 0 { throw ExitCode(1) }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List templates: latest version, when it was saved, lines.")
        @OptionGroup var store: InventoryOptions
        @Option(help: "Every version of this one template (e.g. groups/sales.cfg).") var history: String?

        func run() throws {
            try reportingFailures {
                let inventory = try store.open()
                let templates: [TemplateVersion]
                if let history {
                    guard let layer = TemplateLayer(path: history) else { throw UsageFailure("'\(history)' is not a template path") }
                    templates = try inventory.versions(of: layer)
                } else {
                    templates = try inventory.templates()
                }
                var rows = [["TEMPLATE", "VERSION", "SAVED", "LINES"]]
                for template in templates {
                    rows.append([template.layer.path, String(template.version), timestamp(template.saved),
                                 String(template.text.split(separator: "\n", omittingEmptySubsequences: true).count)])
                }
                emit(table(rows))
            }
        }
    }
}

/// A template folder read whole: every problem is reported as `FILE: problem` before anything is saved.
enum TemplateFolder {
    static func read(_ folder: String, editor: InventoryEditor) throws -> [(layer: TemplateLayer, text: String, file: String)] {
        let root = URL(fileURLWithPath: folder)
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey],
                                                          options: [.skipsHiddenFiles]) else {
            throw UsageFailure("\(folder): cannot read the folder")
        }
        var found: [TemplateLayer: (text: String, file: String)] = [:]
        var problems: [String] = []
        for case let url as URL in walker {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
            let relative = String(url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count + 1))
            let file = (folder as NSString).appendingPathComponent(relative)
            guard let layer = TemplateLayer(path: relative) else {
                problems.append("\(file): not a template place (defaults.cfg, models/<model>.cfg, groups/<group>.cfg, devices/<mac>.cfg)")
                continue
            }
            let canonical: TemplateLayer
            do {
                canonical = try editor.canonical(layer)
            } catch let refused as InventoryEditor.PlaceRefusal {
                problems.append("\(file): \(refused)")
                continue
            }
            guard let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8)
            else {
                problems.append("\(file): cannot read it as UTF-8 text")
                continue
            }
            if let other = found[canonical] {
                problems.append("\(file): the same template as \(other.file)")
                continue
            }
            found[canonical] = (text, file)
        }
        guard problems.isEmpty else {
            FileHandle.standardError.write(Data((problems.sorted().joined(separator: "\n") + "\n").utf8))
            throw UsageFailure("\(folder): \(problems.count) problem(s); nothing was saved")
        }
        return found.map { (layer: $0.key, text: $0.value.text, file: $0.value.file) }.sorted { $0.layer < $1.layer }
    }
}
