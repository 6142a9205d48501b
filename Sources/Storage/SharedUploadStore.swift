/// Phones' uploads where every node finds them (several nodes on one PostgreSQL): each upload's bytes and its earlier
/// versions. A node's upload folder is then its copy of this store: an upload is stored here first (all of a batch or
/// none), then published in the folder; the other nodes hear of its path and copy it into theirs.
public protocol SharedUploadStore: UploadArchive {
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

/// One version of an uploaded file: `current`, or an earlier one by its id and the time it was replaced.
public struct UploadVersion: Sendable, Equatable {
    public var id: String
    /// When it was stored (current) or replaced (earlier), seconds since 1970.
    public var time: Double
    public var bytes: [UInt8]

    public init(id: String, time: Double, bytes: [UInt8]) {
        self.id = id
        self.time = time
        self.bytes = bytes
    }
}

/// Where the versions of phones' uploads are read (the console and the admin API): the node's folder, or the
/// shared store with several nodes.
public protocol UploadHistory: Sendable {
    /// The versions kept of `path`, oldest first, the current one last (its id `current`).
    func history(of path: String) throws -> [UploadVersion]
}

/// Every upload with its versions, as `autoprov store migrate` copies them between a data folder and PostgreSQL.
public protocol UploadArchive: UploadHistory {
    /// Every path uploaded, sorted.
    func paths() throws -> [String]
    /// Stores `versions` (oldest first, the current one last) as `path`'s, with their times: ``history(of:)`` then
    /// reads them back the same (their ids aside).
    func load(_ path: String, versions: [UploadVersion]) throws
}
