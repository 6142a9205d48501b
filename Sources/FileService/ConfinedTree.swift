import Foundation
import ProvisioningCore
#if canImport(Glibc)
import Glibc
#endif

/// A directory whose files are read only when they, after symbolic links, lie inside it (S2).
///
/// The one place that follows links for the server's reads and for `autoprov resolve`.
public struct ConfinedTree: Sendable {
    /// The directory, with its own symbolic links resolved.
    public let directory: URL
    /// ``directory``'s path, and the same with a `/` at the end.
    private let directoryPath: String
    private let prefix: String

    public init(directory: URL) {
        self.directory = directory.standardizedFileURL.resolvingSymlinksInPath()
        directoryPath = self.directory.path
        prefix = directoryPath.hasSuffix("/") ? directoryPath : directoryPath + "/"
    }

    /// What reading a path in the tree comes to.
    public enum Contents: Sendable {
        case file(Data)
        /// Not there, or not a regular file.
        case missing
        /// A symbolic link leads out of the tree: refused, not followed.
        case outside
    }

    /// The path of a file in the tree, as given (links not yet followed).
    public func path(of relative: RootRelativePath) -> String {
        prefix + relative.path
    }

    /// Reads a regular file of the tree. Blocking: call it off the event loops.
    public func read(_ relative: RootRelativePath) -> Contents {
        let full = path(of: relative)
        // A name at the top that is no link is inside, links followed: opened as it is, without `realpath`'s look
        // at every directory above it.
        if relative.segments.count == 1 {
            let descriptor = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            if descriptor >= 0 {
                defer { close(descriptor) }
                return ConfinedTree.readRegularFile(descriptor).map(Contents.file) ?? .missing
            }
            guard errno == ELOOP else { return .missing }
        }
        guard let real = realpath(full, nil) else { return .missing }
        defer { free(real) }
        let resolved = String(cString: real)
        guard resolved.hasPrefix(prefix) else { return .outside }
        var info = stat()
        guard stat(resolved, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG,
              let data = FileManager.default.contents(atPath: resolved)
        else { return .missing }
        return .file(data)
    }

    /// The first `count` bytes of a regular file of the tree (fewer when it is shorter); nil when missing or outside.
    public func start(of relative: RootRelativePath, count: Int) -> [UInt8]? {
        guard case .inside = locate(relative) else { return nil }
        let descriptor = open(path(of: relative), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, count) }
        return got >= 0 ? Array(bytes.prefix(got)) : nil
    }

    /// Where a path of the tree leads once its symbolic links are followed.
    public enum Location: Sendable, Equatable {
        /// Inside the tree, at this root-relative path (the path asked for when no link was followed; empty: the
        /// tree itself).
        case inside(String)
        /// A link leads out of the tree.
        case outside
        /// Nothing there.
        case missing
    }

    /// Reads all of a regular file from an open descriptor; nil when it is not one or cannot be read.
    private static func readRegularFile(_ descriptor: Int32) -> Data? {
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        var data = Data(count: Int(info.st_size))
        var total = 0
        let complete = data.withUnsafeMutableBytes { buffer -> Bool in
            while total < buffer.count {
                let got = Glibc.read(descriptor, buffer.baseAddress! + total, buffer.count - total)
                if got < 0, errno == EINTR { continue }
                guard got > 0 else { return got == 0 }
                total += got
            }
            return true
        }
        guard complete else { return nil }
        if total < data.count { data.removeSubrange(total...) }  // it shrank while read
        return data
    }

    /// Follows the links of `relative`, so that S2 and S5 are decided on what would really be opened.
    public func locate(_ relative: RootRelativePath) -> Location {
        // A name at the top that is no link: nothing to follow (the tree's own links were resolved at the start).
        if relative.segments.count == 1 {
            var info = stat()
            guard lstat(path(of: relative), &info) == 0 else { return .missing }
            if (info.st_mode & S_IFMT) != S_IFLNK { return .inside(relative.path) }
        }
        guard let real = realpath(path(of: relative), nil) else { return .missing }
        defer { free(real) }
        let resolved = String(decoding: UnsafeRawBufferPointer(start: real, count: strlen(real)), as: UTF8.self)
        if resolved + "/" == prefix { return .inside("") }
        guard resolved.hasPrefix(prefix) else { return .outside }
        return .inside(String(resolved.dropFirst(prefix.count)))
    }

    /// What `stat` says of an entry of the tree.
    public struct Facts: Sendable, Equatable {
        public var isDirectory: Bool
        public var size: Int
        public var modified: Date

        /// A regular file's or directory's; nil for anything else.
        init?(_ info: stat) {
            let kind = info.st_mode & S_IFMT
            guard kind == S_IFREG || kind == S_IFDIR else { return nil }
            self.init(isDirectory: kind == S_IFDIR, size: Int(info.st_size),
                      modified: Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec)))
        }

        public init(isDirectory: Bool, size: Int, modified: Date) {
            self.isDirectory = isDirectory
            self.size = size
            self.modified = modified
        }
    }

    /// The tree's own path for `relative` (nil: the tree itself) after links, when it lies inside the tree.
    private func resolved(_ relative: RootRelativePath?) -> String? {
        let full = relative.map(path(of:)) ?? directoryPath
        guard let real = realpath(full, nil) else { return nil }
        defer { free(real) }
        let resolved = String(decoding: UnsafeRawBufferPointer(start: real, count: strlen(real)), as: UTF8.self)
        guard resolved.hasPrefix(prefix) || resolved + "/" == prefix else { return nil }
        return resolved
    }

    private static func facts(atPath path: String) -> Facts? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Facts(info)
    }

    /// A file or directory of the tree (nil: the tree itself); nil when missing or reached by a link out of it.
    public func facts(_ relative: RootRelativePath?) -> Facts? {
        // A name at the top that is no link: what lstat says is all there is to say.
        if let relative, relative.segments.count == 1 {
            var info = stat()
            guard lstat(path(of: relative), &info) == 0 else { return nil }
            if (info.st_mode & S_IFMT) != S_IFLNK { return Facts(info) }
        }
        return resolved(relative).flatMap(ConfinedTree.facts(atPath:))
    }

    /// The entries of a directory of the tree, hidden names and links out of the tree left out; nil when it is not
    /// a directory of the tree. Blocking: call it off the event loops.
    public func list(_ relative: RootRelativePath?) -> [String: Facts]? {
        guard let directoryPath = resolved(relative), ConfinedTree.facts(atPath: directoryPath)?.isDirectory == true,
              let names = try? FileManager.default.contentsOfDirectory(atPath: directoryPath)
        else { return nil }
        var entries: [String: Facts] = [:]
        for name in names where !name.hasPrefix(".") {
            let child = relative.map { $0.path + "/" + name } ?? name
            guard let childPath = try? RootRelativePath(child), let facts = facts(childPath) else { continue }
            entries[name] = facts
        }
        return entries
    }
}
