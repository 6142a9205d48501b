/// A directory protected by a user name and password (S5).
public struct DirectoryAccount: Sendable, Hashable {
    /// The directory, relative to the root, without slashes at either end.
    public var path: String
    public var username: String
    public var password: String

    public init(path: String, username: String, password: String) {
        self.path = path.split(separator: "/").joined(separator: "/")
        self.username = username
        self.password = password
    }

    /// Whether a root-relative path lies in this directory.
    public func contains(_ relative: String) -> Bool {
        relative.hasPrefix(path + "/")
    }
}
