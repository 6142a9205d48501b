import CLinuxShims
import Foundation
import NIOCore
import Storage
#if canImport(Glibc)
import Glibc
import Synchronization
#endif

/// Where phones' uploads live (S4): `data/uploads/<path>`, each write atomic (temporary file, flushed to the disk,
/// renamed), the previous version kept under `data/uploads/.versions/`.
public struct UploadStore: Sendable {
    /// Temporary files are named by this process's random prefix and a count: unique without asking the system for
    /// randomness per upload (a UUID per upload opened `/dev/urandom` each time).
    static let temporaryPrefix = UUID().uuidString.prefix(8)
    static let temporaryCount = Atomic<Int>(0)

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
    /// Whether it replaced an earlier upload.
    @discardableResult
    public func store(_ bytes: some ContiguousBytes, at path: String) throws -> Bool {
        try store([(bytes.withUnsafeBytes { ByteBuffer(bytes: $0) }, path)])[0].get()
    }

    /// Writes several uploads at once (a group commit): each to a temporary file, then one flush to the disk for all
    /// of them (their writes started together, then each file's `fsync`), then each renamed over its name with the previous version kept, then
    /// each directory they changed flushed once. Every upload has its own result; one failing fails no other. A
    /// batch costs two flushes however many uploads it holds, where one upload at a time costs two each: on a disk
    /// where a flush is slow (a virtual disk, an SD card), the difference is most of an upload's cost. (A stream of
    /// batches costs one flush each: ``UploadCommitter`` lets the next batch's flush carry the renames.)
    /// A success says whether the upload replaced an earlier one.
    public func store(_ uploads: [(bytes: [UInt8], path: String)]) -> [Result<Bool, Error>] {
        store(uploads.map { (ByteBuffer(bytes: $0.bytes), $0.path) })
    }

    /// ``store(_:)`` for uploads held in buffers.
    func store(_ uploads: [(bytes: ByteBuffer, path: String)]) -> [Result<Bool, Error>] {
        var staged = stage(uploads)
        flush(&staged, alsoDirectories: [])
        let published = publish(staged)
        flushDirectories(published.directories)
        return published.results
    }

    /// Uploads written to temporary files beside their targets, each still open for the flush.
    struct Staged {
        var results: [Result<Bool, Error>]
        var files: [(index: Int, path: String, temporary: String, target: String, descriptor: Int32)] = []
        var directories = Set<String>()
    }

    /// Uploads renamed over their names: in sight, durable once ``directories`` are flushed.
    struct Published {
        var results: [Result<Bool, Error>]
        var directories: Set<String>
    }

    /// 1. Each upload to a temporary file beside its target, kept open for the flush.
    func stage(_ uploads: [(bytes: ByteBuffer, path: String)]) -> Staged {
        var staged = Staged(results: Array(repeating: .success(false), count: uploads.count))
        let base = directory.path
        for (index, upload) in uploads.enumerated() {
            let target = base + "/" + upload.path
            let parent = String(target[..<target.lastIndex(of: "/")!])
            do {
                if !staged.directories.contains(parent) {
                    try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
                }
                let name = target[target.index(after: target.lastIndex(of: "/")!)...]
                let count = UploadStore.temporaryCount.add(1, ordering: .relaxed).newValue
                let temporary = parent + "/.\(name).\(UploadStore.temporaryPrefix)-\(count).tmp"
                let descriptor = try UploadStore.write(upload.bytes, to: temporary, path: upload.path)
                staged.directories.insert(parent)
                staged.files.append((index, upload.path, temporary, target, descriptor))
            } catch {
                staged.results[index] = .failure(error)
            }
        }
        return staged
    }

    /// 2. One flush for all of them: every file's write to the disk started at once, then each file's `fsync`
    /// waits for its own, and `alsoDirectories` (those of a batch published earlier, whose renames it makes
    /// durable) are flushed with them. Only these files and directories: never the whole filesystem (`syncfs`),
    /// whose cost is whatever any other process left unwritten on it (seconds behind a busy neighbour). A file
    /// whose flush fails is removed and its upload fails; the others go on.
    func flush(_ staged: inout Staged, alsoDirectories: Set<String>) {
        if staged.files.count > 1 {
            for file in staged.files { _ = clinux_start_writeback(file.descriptor) }
        }
        var synced: [(index: Int, path: String, temporary: String, target: String, descriptor: Int32)] = []
        for file in staged.files {
            if fsync(file.descriptor) == 0 {
                synced.append(file)
            } else {
                unlink(file.temporary)
                staged.results[file.index] = .failure(UploadError.system("write \(file.path)", errno))
            }
            close(file.descriptor)
        }
        staged.files = synced
        flushDirectories(alsoDirectories)
    }

    /// 3. Published in the order they came, each keeping the one it replaces.
    func publish(_ staged: Staged) -> Published {
        var results = staged.results
        for file in staged.files {
            do {
                try beforeRename?(URL(fileURLWithPath: file.temporary))
            } catch {
                results[file.index] = .failure(error)
                continue
            }
            let replaced = keepPreviousVersion(of: file.target, path: file.path)
            guard rename(file.temporary, file.target) == 0 else {
                let code = errno
                unlink(file.temporary)
                results[file.index] = .failure(UploadError.system("rename \(file.path)", code))
                continue
            }
            results[file.index] = .success(replaced)
        }
        return Published(results: results, directories: staged.files.isEmpty ? [] : staged.directories)
    }

    /// 4. The renames made durable, each directory once.
    func flushDirectories(_ directories: Set<String>) {
        for parent in directories { Self.flushDirectory(parent) }
    }

    /// A folder's entries made durable (its `fsync`); a folder that cannot be opened is left as it is.
    static func flushDirectory(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    /// Creates `temporary` with `bytes` in it; returns its descriptor, still open.
    private static func write(_ bytes: ByteBuffer, to temporary: String, path: String) throws -> Int32 {
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw UploadError.system("create \(temporary[temporary.index(after: temporary.lastIndex(of: "/")!)...])", errno)
        }
        var failure: Int32 = 0
        bytes.withUnsafeReadableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        guard failure == 0 else {
            close(descriptor)
            unlink(temporary)
            throw UploadError.system("write \(path)", failure)
        }
        return descriptor
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

    /// The bytes of the current version of `path`, if there is one.
    func current(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: url(for: path).path).map(Array.init)
    }

    /// Adds `bytes` to the history of `path` as the version replaced at `time` (a recovery's: ``UploadJournal``),
    /// then trims the history.
    func addVersion(_ bytes: [UInt8], of path: String, replacedAt time: Double, index: Int) throws {
        let folder = versionsDirectory.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let name = String(format: "%.6f", time) + "-r" + String(format: "%07d", index)
        try Data(bytes).write(to: folder.appendingPathComponent(name), options: .atomic)
        trimVersions(in: folder)
    }

    /// Makes `bytes` the current version of `path` without keeping what is there (a recovery's: that is a torn
    /// write, or a version the history already holds), flushed to the disk.
    func replace(_ path: String, with bytes: [UInt8]) throws {
        var staged = stage([(ByteBuffer(bytes: bytes), path)])
        flush(&staged, alsoDirectories: [])
        if case .failure(let error) = staged.results[0] { throw error }
        guard let file = staged.files.first else { return }
        guard rename(file.temporary, file.target) == 0 else {
            let code = errno
            unlink(file.temporary)
            throw UploadError.system("rename \(path)", code)
        }
        flushDirectories(staged.directories)
    }

    private func trimVersions(in folder: URL) {
        if let versions = try? FileManager.default.contentsOfDirectory(atPath: folder.path).sorted(),
           versions.count > keptVersions {
            for old in versions.prefix(versions.count - keptVersions) {
                try? FileManager.default.removeItem(at: folder.appendingPathComponent(old))
            }
        }
    }

    /// Hard-links the current version into `.versions/<path>/<time>` and trims old versions.
    /// Whether there was one.
    private func keepPreviousVersion(of target: String, path: String) -> Bool {
        var info = stat()
        guard lstat(target, &info) == 0 else { return false }
        let folder = versionsDirectory.appendingPathComponent(path)
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let stamp = String(format: "%.6f", Date().timeIntervalSince1970)
        let version = folder.appendingPathComponent("\(stamp)-\(UUID().uuidString.prefix(8))")
        if link(target, version.path) != 0 {
            try? FileManager.default.copyItem(at: URL(fileURLWithPath: target), to: version)
        }
        trimVersions(in: folder)
        return true
    }
}

extension UploadStore: UploadArchive {
    public func history(of path: String) throws -> [UploadVersion] {
        versions(of: path).compactMap { version in
            (try? Data(contentsOf: version.url)).map { UploadVersion(id: version.id, time: version.time, bytes: Array($0)) }
        }
    }

    /// Every uploaded file below the folder (not the hidden versions and temporary files), sorted.
    public func paths() throws -> [String] {
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey],
                                                          options: [.skipsHiddenFiles]) else { return [] }
        let base = directory.standardizedFileURL.path + "/"
        return walker.compactMap { $0 as? URL }
            .filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
            .map { String($0.standardizedFileURL.path.dropFirst(base.count)) }
            .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// Earlier versions under `.versions/<path>/`, named by their times; the current one published last, its
    /// modification time its own.
    public func load(_ path: String, versions: [UploadVersion]) throws {
        guard let current = versions.last else { return }
        let folder = versionsDirectory.appendingPathComponent(path)
        for (index, version) in versions.dropLast().enumerated() {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let name = String(format: "%.6f", version.time) + "-" + String(format: "%08d", index)
            try Data(version.bytes).write(to: folder.appendingPathComponent(name), options: .atomic)
        }
        try store([(current.bytes, path)])[0].get()
        // store() kept nothing (the name was new): the versions above are the ones written.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: current.time)],
                                              ofItemAtPath: url(for: path).path)
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
