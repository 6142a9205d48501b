import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where phones' uploads live (S4): `data/uploads/<path>`, each write atomic (temporary file, fsync, rename),
/// the previous version kept under `data/uploads/.versions/`.
public struct UploadStore: Sendable {
    public let directory: URL
    /// How many earlier versions of a file are kept.
    public let keptVersions: Int
    /// Called with the temporary file once it is written and synced, just before the rename that publishes it;
    /// a test throws here to stand for a crash between the two.
    var beforeRename: (@Sendable (URL) throws -> Void)?

    public init(directory: URL, keptVersions: Int = 10) {
        self.directory = directory
        self.keptVersions = keptVersions
    }

    var versionsDirectory: URL { directory.appendingPathComponent(".versions") }

    /// The stored file for a path, if any.
    public func url(for path: String) -> URL {
        directory.appendingPathComponent(path)
    }

    /// Writes `bytes` as the new version of `path`, keeping the old one.
    public func store(_ bytes: some ContiguousBytes, at path: String) throws {
        let target = url(for: path)
        let parent = target.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let temporary = parent.appendingPathComponent(".\(target.lastPathComponent).\(UUID().uuidString).tmp")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw UploadError.system("create \(temporary.lastPathComponent)", errno) }
        var failure: Int32 = 0
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        if failure == 0, fsync(descriptor) != 0 { failure = errno }
        close(descriptor)
        guard failure == 0 else {
            unlink(temporary.path)
            throw UploadError.system("write \(path)", failure)
        }
        try beforeRename?(temporary)
        keepPreviousVersion(of: target, path: path)
        guard rename(temporary.path, target.path) == 0 else {
            let code = errno
            unlink(temporary.path)
            throw UploadError.system("rename \(path)", code)
        }
        let directoryDescriptor = open(parent.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    /// A version of an uploaded file: `current`, or an earlier one by the time it was replaced (its id).
    public struct Version: Sendable, Hashable {
        public var id: String
        /// When it was stored (current) or replaced (earlier), seconds since 1970.
        public var time: Double
        public var url: URL
    }

    /// The versions kept of a path, oldest first, the current one last.
    public func versions(of path: String) -> [Version] {
        let folder = versionsDirectory.appendingPathComponent(path)
        var found = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted().map { name in
            Version(id: name, time: Double(name.prefix { $0 != "-" }) ?? 0, url: folder.appendingPathComponent(name))
        }
        let current = url(for: path)
        if let attributes = try? FileManager.default.attributesOfItem(atPath: current.path) {
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            found.append(Version(id: "current", time: modified, url: current))
        }
        return found
    }

    /// Hard-links the current version into `.versions/<path>/<time>` and trims old versions.
    private func keepPreviousVersion(of target: URL, path: String) {
        guard FileManager.default.fileExists(atPath: target.path) else { return }
        let folder = versionsDirectory.appendingPathComponent(path)
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let stamp = String(format: "%.6f", Date().timeIntervalSince1970)
        let version = folder.appendingPathComponent("\(stamp)-\(UUID().uuidString.prefix(8))")
        if link(target.path, version.path) != 0 {
            try? FileManager.default.copyItem(at: target, to: version)
        }
        if let versions = try? FileManager.default.contentsOfDirectory(atPath: folder.path).sorted(),
           versions.count > keptVersions {
            for old in versions.prefix(versions.count - keptVersions) {
                try? FileManager.default.removeItem(at: folder.appendingPathComponent(old))
            }
        }
    }
}

/// A failed upload write.
public enum UploadError: Error, CustomStringConvertible {
    case system(String, Int32)

    public var description: String {
        switch self {
        case .system(let action, let code): "\(action): \(String(cString: strerror(code)))"
        }
    }
}
