import Foundation
import Testing
import TestSupport

/// Runs the built `autoprov` binary, as an administrator would.
struct CommandRunner {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The binary next to the test bundle (or `AUTOPROV_BIN`).
    static let binary: URL = {
        if let path = ProcessInfo.processInfo.environment["AUTOPROV_BIN"] { return URL(fileURLWithPath: path) }
        return Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent("autoprov")
    }()

    /// ``run(_:in:timeout:)`` on a thread of its own: an async test waiting for many commands does not hold one
    /// of the few threads every other test runs on (with two cores, two waiting suites starved the rest).
    static func runOnOwnThread(_ arguments: [String], in directory: URL? = nil, timeout: Double = 120) async throws -> Result {
        try await onOwnThread { try run(arguments, in: directory, timeout: timeout) }
    }

    /// Runs `autoprov` with `arguments`; past `timeout` seconds it is killed and ``ChildTimedOut`` is thrown.
    static func run(_ arguments: [String], in directory: URL? = nil, timeout: Double = 120) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("out")
        let errURL = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.runAndWait(timeout: timeout)
        try out.close()
        try err.close()
        return Result(status: process.terminationStatus,
                      stdout: try String(contentsOf: outURL, encoding: .utf8),
                      stderr: try String(contentsOf: errURL, encoding: .utf8))
    }
}

/// A copy of a fixture tree in a fresh temporary directory, removed when done.
final class FixtureTree {
    let url: URL

    init(_ name: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-\(name)-\(UUID().uuidString)")
        let source = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/" + name)
        try FileManager.default.copyItem(at: source, to: url)
    }

    var path: String { url.path }

    func file(_ relative: String) -> URL {
        url.appendingPathComponent(relative)
    }

    func write(_ relative: String, _ text: String) throws {
        try text.write(to: file(relative), atomically: true, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}
