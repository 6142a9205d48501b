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
    private let prefix: String

    public init(directory: URL) {
        self.directory = directory.standardizedFileURL.resolvingSymlinksInPath()
        prefix = self.directory.path.hasSuffix("/") ? self.directory.path : self.directory.path + "/"
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
        directory.path + "/" + relative.path
    }

    /// Reads a regular file of the tree. Blocking: call it off the event loops.
    public func read(_ relative: RootRelativePath) -> Contents {
        let full = path(of: relative)
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
}
