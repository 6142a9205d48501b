import ArgumentParser
import Foundation
import Inventory
import ProvisioningCore
import Resolution
import Storage

struct Lint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check .cfg and .boot files against the phone's rules.",
        discussion: """
            Prints one line per finding, 'path:line:column: error|warning: message [code]'. A directory is \
            checked recursively and taken as the provisioning root (for includes). Exit status: 1 when any \
            error is found, 0 otherwise, 2 when a path cannot be read.
            """
    )

    @Argument(help: "Files or directories to check.")
    var paths: [String]

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @OptionGroup var keyOptions: FileKeyOptions

    @Option(help: "A data folder whose inventory's templates generate files: a root file they hide is warned about.")
    var data: String?

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    /// A warning for each file at the top of a root directory that a file the templates generate hides (`serve`
    /// answers with the generated one).
    func shadowed() throws -> [LintFinding] {
        guard let data else { return [] }
        let options = try InventoryOptions.parse(["--data", data])
        guard let inventory = try options.openExisting() else { throw UsageFailure("\(data): no inventory in this data folder") }
        let snapshot = try options.snapshot(inventory)
        var generated: [String: GeneratedFile] = [:]
        for model in ModelCatalog.all where generated[model.commonConfigName] == nil {
            generated[model.commonConfigName] = snapshot.renderer.commonFile(named: model.commonConfigName, serverURL: "")
        }
        for device in snapshot.devices.values {
            generated[device.mac + ".cfg"] = snapshot.renderer.deviceFile(for: device, serverURL: "")
            generated[device.mac + ".boot"] = snapshot.renderer.bootFile(for: device, serverURL: "")
        }
        var findings: [LintFinding] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            for (name, file) in generated.sorted(by: { $0.key < $1.key }) {
                let onDisk = (path as NSString).appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: onDisk) else { continue }
                findings.append(LintFinding(path: onDisk, Diagnostic(
                    line: 1, column: 1, severity: .warning, code: "shadowed-by-template",
                    message: "never served: the inventory's templates generate \(name) (from "
                        + (file.templates.isEmpty ? "the variable 'boot'" : file.templates.map(\.path).joined(separator: ", "))
                        + "), which serve sends instead")))
            }
        }
        return findings
    }

    func run() throws {
        var errors = 0
        try reportingFailures {
            var findings: [LintFinding] = []
            for path in paths {
                findings += try ProvisioningTree(path: path, keys: keyOptions.keys).lint()
            }
            findings += try shadowed()
            errors = findings.filter { $0.severity == .error }.count
            let warnings = findings.count - errors
            if !findings.isEmpty {
                let files = Set(findings.map(\.path)).count
                FileHandle.standardError.write(Data(
                    "\(errors) errors and \(warnings) warnings in \(files) files\n".utf8))
            }
            switch format {
            case .text:
                emit(findings.map(\.rendered).joined())
            case .json:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                emit(String(decoding: try encoder.encode(findings), as: UTF8.self) + "\n")
            }
        }
        if errors > 0 { throw ExitCode(1) }
    }
}

/// A finding with the file it is about, as printed.
struct LintFinding: Encodable {
    let path: String
    let line: Int
    let column: Int
    let severity: Diagnostic.Severity
    let code: String
    let message: String

    init(path: String, _ diagnostic: Diagnostic) {
        self.path = path
        line = diagnostic.line
        column = diagnostic.column
        severity = diagnostic.severity
        code = diagnostic.code
        message = diagnostic.message
    }

    var rendered: String {
        "\(path):\(line):\(column): \(severity.rawValue): \(message) [\(code)]\n"
    }
}

/// The files `lint` reads under one path: the path itself, or every .cfg and .boot file below a directory.
struct ProvisioningTree {
    let path: String
    var keys = FileKeys()

    func lint() throws -> [LintFinding] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw UsageFailure("\(path): no such file or directory")
        }
        if !isDirectory.boolValue {
            let root = (path as NSString).deletingLastPathComponent
            return try lint(file: path, relative: (path as NSString).lastPathComponent, root: root.isEmpty ? "." : root)
        }
        guard let walker = FileManager.default.enumerator(atPath: path) else {
            throw UsageFailure("\(path): cannot read directory")
        }
        var relatives: [String] = []
        while let relative = walker.nextObject() as? String {
            let lower = relative.lowercased()
            if lower.hasSuffix(".cfg") || lower.hasSuffix(".boot") { relatives.append(relative) }
        }
        var findings: [LintFinding] = []
        for relative in relatives.sorted() {
            findings += try lint(file: (path as NSString).appendingPathComponent(relative), relative: relative,
                                 root: path)
        }
        return findings
    }

    private func lint(file: String, relative: String, root: String) throws -> [LintFinding] {
        guard let data = FileManager.default.contents(atPath: file) else {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory), isDirectory.boolValue {
                return []
            }
            throw UsageFailure("\(file): cannot read file")
        }
        let linter = Linter(fileExists: { relativePath in
            guard let checked = try? RootRelativePath(relativePath) else { return false }
            return FileManager.default.fileExists(atPath: (root as NSString).appendingPathComponent(checked.path))
        })
        let bytes: [UInt8]
        do {
            bytes = try keys.plaintext(Array(data), file: URL(fileURLWithPath: file))
        } catch let unreadable as ResolveError {
            throw UsageFailure(unreadable.description)
        }
        return linter.lint(path: relative, bytes: bytes).map { LintFinding(path: file, $0) }
    }
}
