/// Phones' uploads where every node finds them (several nodes on one PostgreSQL): each upload's bytes and its earlier
/// versions. A node's upload folder is then its copy of this store: an upload is stored here first (all of a batch or
/// none), then published in the folder; the other nodes hear of its path and copy it into theirs.
public protocol SharedUploadStore: Sendable {
    /// Stores `uploads` as the new versions of their paths, all or none, keeping ``keptVersions`` earlier ones of each;
    /// every node listening hears each path once this returns. ``StoreUnavailable`` when the database cannot be
    /// reached: nothing was stored.
    func store(_ uploads: [(path: String, bytes: [UInt8])]) throws
    /// The current version of every path stored: its MD5, in hex.
    func digests() throws -> [String: String]
    /// The current bytes of `path`, if it was ever uploaded.
    func current(_ path: String) throws -> [UInt8]?
    /// The paths stored by any node, as they are stored; `nil` when the node may have missed some (it listens again
    /// after a lost connection): every path is to be compared then.
    func changes() -> AsyncStream<String?>
}

extension SharedUploadStore {
    /// How many earlier versions of a path are kept.
    public var keptVersions: Int { 10 }
}
