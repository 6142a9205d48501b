import Crypto
import Foundation
import Inventory
import NIOCore
import NIOPosix
import ProvisioningCore
import Storage
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What a read comes to; each front-end maps it to its wire form (S1, S2, S5).
public enum ReadAnswer: Sendable {
    case file(ServedFile)
    /// TFTP 1, HTTP 404 (S1).
    case notFound
    /// TFTP 2, HTTP 403 (S2, or a protected directory on a protocol without credentials).
    case forbidden(String)
    /// HTTP 401 with a challenge for this realm, after `delay` (S5).
    case unauthorized(realm: String, delay: Duration, stale: Bool)
}

/// What a read comes to on the calling thread (``FileService/decide(_:readingUpTo:)``).
public enum ReadDecision: Sendable {
    case answer(ReadAnswer)
    /// A file to load first, off the caller's thread: ``FileService/load(_:)``.
    case load(PendingLoad)
}

/// The files on disk a read is waiting for, in the order they answer (the upload store before the root, S4).
public struct PendingLoad: Sendable {
    let candidates: [FileService.Candidate]
}

/// What a write comes to.
public enum WriteAnswer: Sendable, Equatable {
    case created
    case replaced
    case forbidden(String)
    case tooLarge(limit: Int)
    case unauthorized(realm: String, delay: Duration, stale: Bool)
    case failed(String)
    /// The shared upload store (PostgreSQL) cannot be reached: nothing was stored; the phone may try again later.
    case unavailable(String)
}

/// The one place that decides what a request means (ARCHITECTURE.md): confinement (S2), credentials (S5),
/// where bytes come from (upload store, then root), uploads (S4), and what is recorded.
public final class FileService: Sendable {
    public let root: URL
    /// The provisioning root and the upload store, read only inside themselves (S2).
    let rootTree: ConfinedTree
    let uploadTree: ConfinedTree
    public let uploads: UploadStore
    /// Stores uploads in batches (``UploadCommitter``).
    let committer: UploadCommitter
    let settings: Settings
    let log: RequestLog?
    public let metrics: ServerMetrics
    /// The bytes of uploads received and not yet stored, in all (``Settings/uploadBudgetBytes``).
    public let uploadBudget: UploadBudget
    let credentials: CredentialChecker
    /// `[encryption]`: what is encrypted on the way out.
    let encryption: ServedEncryption
    private let cache = Mutex<[String: CachedFile]>([:])
    /// Answers by raw request path for files checked (stat) within the last second, like nginx's
    /// `open_file_cache_valid 1s`: an edit on disk is served within a second, an upload at once.
    private let recent = PerThread<[RecentKey: RecentAnswer]> { [:] }
    /// Bumped by every upload and by every change any thread finds on disk (a file loaded anew, gone, or the cache
    /// emptied); answers remembered under an older generation are not used. Each thread keeps its own answers, so
    /// without this one thread would serve a new version while another still served the old one for up to a
    /// second: once any thread has served a version, none serves an older one.
    let generation = Atomic<Int>(0)
    /// Files up to this size may be read from disk on the caller's thread (microseconds, from the page cache);
    /// larger ones (firmware) are loaded off it.
    public static let smallFile = 1024 * 1024
    private let cacheBytes = Mutex<Int>(0)
    /// Answers each thread remembers (``recent``), at most.
    static let recentAnswers = 16_384

    /// Made once per loaded file, for the front-ends (see ``FilePreparer``).
    let prepare: FilePreparer?
    /// The files templates generate (after uploads, before the root); nil without an inventory.
    public let generated: GeneratedFiles?
    /// Generated files as they go out, by server URL and name, until the inventory changes, within
    /// ``Settings/generatedCacheBytes``.
    let generatedCache = GeneratedCacheShards()
    /// The literal ending of each upload pattern (`-local.cfg` for `$MAC-local.cfg`): a name that ends in none of
    /// them can be no upload, and needs no look at the upload store.
    let uploadEndings: [String]

    /// With several nodes, the store every node's uploads go to first (``SharedUploadStore``); the upload folder is
    /// then this node's copy of it.
    public let sharedUploads: (any SharedUploadStore)?
    /// What the upload journal held at the start (an unclean stop), and what of it the disk had lost and was put
    /// back: current files and earlier versions (``UploadJournal``).
    public let recoveredUploads: (journaled: Int, files: Int, versions: Int)
    /// Where the versions of uploads are read: the shared store's, else this node's folder's.
    public var uploadHistory: any UploadHistory { sharedUploads ?? uploads }

    public init(settings: Settings, log: RequestLog?, metrics: ServerMetrics, prepare: FilePreparer? = nil,
                generated: GeneratedFiles? = nil, sharedUploads: (any SharedUploadStore)? = nil) throws {
        self.sharedUploads = sharedUploads
        self.prepare = prepare
        self.generated = generated
        uploadEndings = settings.uploadPatterns.map { pattern in
            String(pattern.reversed().prefix { $0 != "*" && $0 != "?" && $0 != "C" }.reversed())
        }
        let rootURL = URL(fileURLWithPath: settings.root).standardizedFileURL.resolvingSymlinksInPath()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: rootURL.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ConfigurationError("the provisioning root is not a directory", code: .unreadableFile, file: settings.root)
        }
        root = rootURL
        rootTree = ConfinedTree(directory: rootURL)
        let dataURL = URL(fileURLWithPath: settings.data).standardizedFileURL
        uploads = UploadStore(directory: dataURL.appendingPathComponent("uploads").resolvingSymlinksInPath())
        uploadTree = ConfinedTree(directory: uploads.directory)
        // What a crash or a power loss kept from the disk is put back from the journal before anything is served.
        let recovery = try UploadJournal.recover(into: uploads)
        recoveredUploads = (recovery.records, recovery.restored, recovery.versionsRestored)
        committer = UploadCommitter(store: uploads, shared: sharedUploads,
                                    journal: try UploadJournal(uploads: uploads.directory,
                                                              segmentAge: .seconds(settings.uploadCheckpointSeconds)))
        self.settings = settings
        self.log = log
        self.metrics = metrics
        uploadBudget = UploadBudget(limit: settings.uploadBudgetBytes, metrics: metrics)
        credentials = CredentialChecker(directories: settings.directories, metrics: metrics)
        encryption = try ServedEncryption(commonKey: settings.encryptionCommonKey, keysFile: settings.encryptionKeysFile)
    }

    /// At a clean stop, after the listeners: the upload journal folded into the files and dropped.
    public func finishUploads() {
        committer.journal?.finish(uploads)
    }

    // MARK: Reading

    /// Decides a read on the calling thread: the answer, when checks, credentials, the cache or a file of at most
    /// `limit` bytes read on the spot (microseconds, from the page cache) give it; else the file to ``load(_:)`` off
    /// this thread first (firmware). `limit` 0 reads nothing but empty files on the spot (a caller on an event loop
    /// shared with other work); the default suits a caller that owns its thread or runs as a task.
    public func decide(_ request: FileRequest, readingUpTo limit: Int = FileService.smallFile) -> ReadDecision {
        let key = RecentKey(path: request.path, isPercentEncoded: request.isPercentEncoded)
        let now = ContinuousClock.now
        let generation = self.generation.load(ordering: .acquiring)
        // A generated file: its own cache, not the threads' remembered answers (a fleet's worth of those would
        // keep every rendered file alive past the cache's budget).
        let quick = quickGenerated(request)
        if let answer = quick.answer { return .answer(answer) }
        if let hit = recent.withLock({ $0[key] }), hit.generation == generation {
            if now - hit.checked < settings.revalidateAfter { return .answer(.file(hit.file)) }
            // Checked over a second ago: one `stat` of the file it came from says whether it still stands (the
            // path's confinement and credentials do not change while the server runs).
            var info = stat()
            if stat(hit.source, &info) == 0, FileIdentity(info) == hit.identity {
                recent.withLock { $0[key]?.checked = now }
                return .answer(.file(hit.file))
            }
            self.generation.add(1, ordering: .releasing)  // changed or gone: no thread may answer with it now
        }
        let answer: ReadAnswer
        var origin: Origin?
        switch prepareRead(request, generatedChecked: quick.checked) {
        case .answer(let immediate):
            answer = immediate
        case .cached(let file, let from):
            answer = .file(file)
            origin = from
        case .generated(let generated):
            answer = generated
        case .load(let candidates):
            guard candidates.allSatisfy({ $0.identity.size <= limit }) else { return .load(PendingLoad(candidates: candidates)) }
            answer = .notFound
            for candidate in candidates {
                if let loaded = loadNow(candidate) {
                    return .answer(remember(.file(loaded.file), from: Origin(path: loaded.source, identity: loaded.identity),
                                            request: request, key: key, now: now, generation: generation))
                }
            }
        }
        return .answer(remember(answer, from: origin, request: request, key: key, now: now, generation: generation))
    }

    /// Loads what ``decide(_:readingUpTo:)`` left to load, off the caller's thread, and caches it.
    public func load(_ pending: PendingLoad) async -> ReadAnswer {
        for candidate in pending.candidates {
            if let file = await load(candidate) { return .file(file) }
        }
        return .notFound
    }

    /// ``decide(_:readingUpTo:)``, then ``load(_:)`` when a file is to be loaded: for a caller that may wait.
    public func read(_ request: FileRequest) async -> ReadAnswer {
        switch decide(request) {
        case .answer(let answer): answer
        case .load(let pending): await load(pending)
        }
    }

    /// Keeps a file answer for ``decide(_:readingUpTo:)``. Only plain files outside protected directories are
    /// remembered: credentials are checked every time.
    private func remember(_ answer: ReadAnswer, from origin: Origin?, request: FileRequest, key: RecentKey,
                          now: ContinuousClock.Instant, generation: Int) -> ReadAnswer {
        if case .file(let file) = answer, let origin, request.credentials == nil {
            recent.withLock { table in
                if table.count >= FileService.recentAnswers { table.removeAll(keepingCapacity: true) }
                table[key] = RecentAnswer(file: file, source: origin.path, identity: origin.identity, checked: now,
                                          generation: generation)
            }
        }
        return answer
    }

    /// The file on disk an answer came from, as `stat` saw it.
    private struct Origin {
        var path: String
        var identity: FileIdentity
    }

    private enum ReadPlan {
        case answer(ReadAnswer)
        /// A file in memory that `stat` says is unchanged.
        case cached(ServedFile, Origin)
        /// A generated file's answer.
        case generated(ReadAnswer)
        case load([Candidate])
    }

    /// A file on disk that may answer a read, with what `stat` said of it.
    struct Candidate: Sendable {
        var tree: ConfinedTree
        var path: RootRelativePath
        var key: String
        var identity: FileIdentity
        var modifiedSeconds: Int
    }

    private func prepareRead(_ request: FileRequest, generatedChecked: Bool = false) -> ReadPlan {
        let path: RootRelativePath
        switch confine(request) {
        case .success(let checked): path = checked
        case .failure(let refusal): return .answer(.forbidden(refusal.description))
        }
        if let refused = refusal(request, for: path.path) { return .answer(ReadAnswer(refused)) }
        // Uploads win over the root: a phone gets back what it uploaded (S4).
        var candidates: [Candidate] = []
        let trees = mayBeUpload(path.segments.last!) ? [(uploadTree, "u:" + path.path), (rootTree, "r:" + path.path)]
            : [(rootTree, "r:" + path.path)]
        for (tree, key) in trees {
            // A generated file wins over a file of the same name in the root (`lint --data` names the one it hides).
            if key.hasPrefix("r:"), candidates.isEmpty, !generatedChecked, let generated = generatedAnswer(path, request) {
                return .generated(generated)
            }
            var info = stat()
            let full = tree.path(of: path)
            guard lstat(full, &info) == 0 else { continue }
            // A name at the top that is no link is the file itself, inside the tree (whose own links were resolved
            // at the start): one lstat says all. Else S2 and S5 hold for the file that would be opened: a link out
            // of the tree is refused, and a link into a protected directory needs that directory's credentials.
            if path.segments.count > 1 || (info.st_mode & S_IFMT) == S_IFLNK {
                guard stat(full, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
                switch tree.locate(path) {
                case .outside: return .answer(.forbidden("a symbolic link leads out of the served tree"))
                case .missing: continue
                case .inside(let target) where target != path.path:
                    if let refused = refusal(request, for: target) { return .answer(ReadAnswer(refused)) }
                case .inside: break
                }
            } else {
                guard (info.st_mode & S_IFMT) == S_IFREG else { continue }
            }
            let identity = FileIdentity(info)
            if candidates.isEmpty, let cached = cache.withLock({ $0[key] }), cached.identity == identity {
                return .cached(cached.file, Origin(path: cached.source, identity: identity))
            }
            candidates.append(Candidate(tree: tree, path: path, key: key, identity: identity,
                                        modifiedSeconds: info.st_mtim.tv_sec))
        }
        if candidates.isEmpty, let wrapped = securityFile(for: path) { return .answer(.file(wrapped)) }
        return candidates.isEmpty ? .answer(.notFound) : .load(candidates)
    }

    /// `<name>_Security.enc` when `<name>.cfg` is in the root and autoprov encrypts it on the way out: its key,
    /// wrapped (R6.3). Not when that file is encrypted on disk already, or shadowed by an upload: it goes out as it
    /// is, under a key autoprov does not know, and a wrong key would only make the phone fail to decrypt it.
    private func securityFile(for path: RootRelativePath) -> ServedFile? {
        guard encryption.isOn, let secured = encryption.securedFile(for: path),
              let facts = rootTree.facts(secured), !facts.isDirectory, uploadTree.facts(secured) == nil,
              let start = rootTree.start(of: secured, count: 64),
              let key = encryption.encryptingKey(start: start, path: secured)
        else { return nil }
        let bytes = CompatibilityEncryption.securityFile(for: key)
        return ServedFile(bytes: bytes, modified: facts.modified,
                          contentType: "application/octet-stream", prepare: prepare)
    }

    /// Checks a request path against the root (S2): ``RootRelativePath`` holds every rule.
    func confine(_ request: FileRequest) -> Result<RootRelativePath, RootRelativePathError> {
        Result { () throws(RootRelativePathError) in try RootRelativePath(request.decodedPath) }
    }

    /// Reads (off the event loop) and caches a regular file of its tree; a link out of the tree is not followed.
    private func load(_ candidate: Candidate) async -> ServedFile? {
        if let cached = cache.withLock({ $0[candidate.key] }), cached.identity == candidate.identity { return cached.file }
        let loaded: ServedFile? = try? await NIOThreadPool.singleton.runIfActive { self.served(candidate) }
        guard let loaded else { return nil }
        remember(CachedFile(identity: candidate.identity, file: loaded, source: candidate.tree.path(of: candidate.path)),
                 key: candidate.key)
        return loaded
    }

    /// ``load(_:)`` on the calling thread; the file as cached.
    private func loadNow(_ candidate: Candidate) -> CachedFile? {
        if let cached = cache.withLock({ $0[candidate.key] }), cached.identity == candidate.identity { return cached }
        guard let loaded = served(candidate) else { return nil }
        let entry = CachedFile(identity: candidate.identity, file: loaded, source: candidate.tree.path(of: candidate.path))
        remember(entry, key: candidate.key)
        return entry
    }

    /// A file as it goes out: read from its tree, and encrypted when it is a root file `[encryption]` covers
    /// (uploads go back as the phone sent them).
    private func served(_ candidate: Candidate) -> ServedFile? {
        guard case .file(let data) = candidate.tree.read(candidate.path) else { return nil }
        let modified = Date(timeIntervalSince1970: TimeInterval(candidate.modifiedSeconds))
        let bytes = encryption.isOn && candidate.key.hasPrefix("r:")
            ? encryption.served(Array(data), path: candidate.path) : Array(data)
        return ServedFile(bytes: bytes, modified: modified,
                          contentType: FileService.contentType(for: candidate.path.path), prepare: prepare)
    }

    /// What the files kept in memory cost now (``Settings/fileCacheBytes`` bounds it).
    var cachedCost: Int { cacheBytes.withLock { $0 } }

    private func remember(_ entry: CachedFile, key: String) {
        let size = entry.file.cost
        let replaced = cache.withLock { cache in
            cacheBytes.withLock { total -> Bool in
                var replaced = cache[key] != nil
                if let old = cache[key] { total -= old.file.cost }
                if total + size > settings.fileCacheBytes {
                    cache.removeAll()
                    total = 0
                    replaced = true
                }
                cache[key] = entry
                total += size
                return replaced
            }
        }
        // A version that replaces another (or one loaded after the cache was emptied): the answers other threads
        // remembered may hold the old one, and must not be used once this one goes out.
        if replaced { generation.add(1, ordering: .releasing) }
    }

    static func contentType(for path: String) -> String {
        let lower = path.lowercased()
        if lower.hasSuffix(".cfg") || lower.hasSuffix(".boot") || lower.hasSuffix(".txt") { return "text/plain" }
        if lower.hasSuffix(".xml") { return "application/xml" }
        return "application/octet-stream"
    }

    /// The `WWW-Authenticate` challenges for a protected directory (S5): Digest with a fresh nonce, and Basic.
    public func challenges(realm: String, stale: Bool) -> [String] {
        credentials.challenges(realm: realm, stale: stale)
    }

    /// What a protected directory says of a request for `relative` (a directory's own path ends in `/`): nil when
    /// it may go on, or when no protected directory holds it.
    func refusal(_ request: FileRequest, for relative: String) -> AccessRefusal? {
        guard let directory = credentials.directory(containing: relative) else { return nil }
        switch credentials.check(request, for: directory) {
        case .granted: return nil
        case .refused(let reason): return .forbidden(reason)
        case .challenge(let delay, let stale): return .unauthorized(realm: directory.path, delay: delay, stale: stale)
        }
    }

    // MARK: Recording

    /// Records a finished request in the request log and metrics, with the device it identifies.
    public func record(_ request: FileRequest, result: RequestResult, bytes: Int, seconds: Double) {
        metrics.count(protocolName: request.protocolName, result: result.rawValue, bytes: bytes)
        guard let log else { return }
        // The device (MAC, model, firmware) is worked out when the batch is written, off the request path.
        log.record(RequestRecord(
            time: Date().timeIntervalSince1970, protocolName: request.protocolName, client: request.client,
            path: request.path, result: result.rawValue, bytes: bytes, duration: seconds, userAgent: request.userAgent,
            certificate: request.certificateSubject))
    }
}

/// A refused login: wait this long before saying so.
public struct LoginRefusal: Error, Sendable {
    public var delay: Duration
}

/// Why a protected directory, or the upload rules, refuse a request (S4, S5).
public enum AccessRefusal: Error, Sendable {
    case forbidden(String)
    case unauthorized(realm: String, delay: Duration, stale: Bool)
}

extension ReadAnswer {
    /// A read refused by a protected directory (S5) or by confinement (S2).
    init(_ refusal: AccessRefusal) {
        switch refusal {
        case .forbidden(let reason): self = .forbidden(reason)
        case .unauthorized(let realm, let delay, let stale): self = .unauthorized(realm: realm, delay: delay, stale: stale)
        }
    }
}
