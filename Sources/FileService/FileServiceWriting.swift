import Foundation
import NIOCore
import NIOPosix
import ProvisioningCore
import Storage

/// An upload that ``FileService/uploadPermission(_:)`` allows: where it goes and how large it may be.
public struct UploadPermission: Sendable {
    public let path: RootRelativePath
    /// The most bytes it may have.
    public let limit: Int
    /// A file of that name is in the root (the upload will shadow it).
    let inRoot: Bool
}

/// Uploads (S4): which names a phone may write, and storing them atomically with the previous version kept.
extension FileService {
    /// Whether an upload of this path is allowed (S4), and its size limit.
    public func uploadPermission(_ request: FileRequest) -> Result<UploadPermission, AccessRefusal> {
        let path: RootRelativePath
        switch confine(request) {
        case .success(let checked): path = checked
        case .failure(let refusal): return .failure(.forbidden(refusal.description))
        }
        if let refused = refusal(request, for: path.path) { return .failure(refused) }
        let name = path.segments.last!
        // A name that is a folder (in the root or among uploads), or lies below a file, cannot be a file.
        var inRoot = false
        for (index, tree) in [rootTree, uploadTree].enumerated() {
            let facts = tree.facts(path)
            if facts?.isDirectory == true { return .failure(.forbidden("'\(path.path)' is a directory")) }
            if index == 0, facts != nil { inRoot = true }
            for end in 1..<path.segments.count {
                guard let parent = try? RootRelativePath(path.segments.prefix(end).joined(separator: "/")),
                      let facts = tree.facts(parent), !facts.isDirectory else { continue }
                return .failure(.forbidden("'\(parent.path)' is a file, not a directory"))
            }
        }
        // Through a link in the root, an upload lands where a phone reading that directory would look: that
        // directory's credentials are asked for (S5).
        if path.segments.count > 1, let parent = try? RootRelativePath(path.segments.dropLast().joined(separator: "/")) {
            switch rootTree.locate(parent) {
            case .outside: return .failure(.forbidden("a symbolic link leads out of the served tree"))
            case .inside(let target) where target != parent.path:
                if let refused = refusal(request, for: target.isEmpty ? name : target + "/" + name) {
                    return .failure(refused)
                }
            case .inside, .missing: break
            }
        }
        guard settings.uploadPatterns.contains(where: { Glob.matches(pattern: $0, name: name) }) else {
            return .failure(.forbidden("uploads of '\(name)' are not allowed"))
        }
        return .success(UploadPermission(path: path, limit: settings.uploadMaximumBytes, inRoot: inRoot))
    }

    /// Stores an upload atomically, keeping the previous version (S4).
    public func write(_ request: FileRequest, contents: ByteBuffer) async -> WriteAnswer {
        await withCheckedContinuation { continuation in
            write(request, contents: contents) { continuation.resume(returning: $0) }
        }
    }

    /// ``write(_:contents:)`` for a caller that is no task (an epoll loop): `answer` hears the outcome, at once for
    /// a refusal, else on the thread that stored the upload. `permitted`: what ``uploadPermission(_:)`` said of this
    /// request a moment ago on the same thread (the HTTP quick paths, which ask before they wait for the body), not
    /// asked again.
    public func write(_ request: FileRequest, contents: ByteBuffer, permitted: UploadPermission? = nil,
                      then answer: @escaping @Sendable (WriteAnswer) -> Void) {
        let permission: UploadPermission
        switch permitted.map(Result.success) ?? uploadPermission(request) {
        case .success(let allowed): permission = allowed
        case .failure(.forbidden(let reason)): return answer(.forbidden(reason))
        case .failure(.unauthorized(let realm, let delay, let stale)):
            return answer(.unauthorized(realm: realm, delay: delay, stale: stale))
        }
        guard contents.readableBytes <= permission.limit else { return answer(.tooLarge(limit: permission.limit)) }
        let inRoot = permission.inRoot
        committer.commit(contents, at: permission.path.path) { [self] result in
            switch result {
            case .success(let replacedUpload):
                metrics.uploads.add(1)
                // The upload must be what the next download returns (S4): answers the threads remember for this name
                // (the root's file, an earlier upload) are dropped. A name that had neither can be remembered by none
                // (misses are not remembered), so a storm of first uploads leaves every thread's answers standing.
                if inRoot || replacedUpload { generation.add(1, ordering: .releasing) }
                answer(inRoot || replacedUpload ? .replaced : .created)
            case .failure(let error as StoreUnavailable):
                answer(.unavailable("uploads cannot be stored now: \(error)"))
            case .failure(let error):
                answer(.failed("\(error)"))
            }
        }
    }
}

/// Uploads stored by other nodes (``SharedUploadStore``), copied into this node's folder.
extension FileService {
    /// Copies the shared store's current version of `path` here, unless this node has it already; whether it did.
    /// Answers remembered for the name are dropped, as for an upload through this node.
    @discardableResult
    public func copySharedUpload(_ path: String) throws -> Bool {
        guard let sharedUploads, let checked = try? RootRelativePath(path) else { return false }
        return try committer.sharedOrder.withLock {
            guard let bytes = try sharedUploads.current(checked.path) else { return false }
            if let held = FileManager.default.contents(atPath: uploads.url(for: checked.path).path), Array(held) == bytes {
                return false
            }
            try uploads.store(bytes, at: checked.path)
            generation.add(1, ordering: .releasing)
            return true
        }
    }

    /// Copies every path whose current version in the shared store this node lacks (at start, and after a lost
    /// connection, when notifications may have been missed); how many it copied.
    public func copySharedUploads() throws -> Int {
        guard let sharedUploads else { return 0 }
        var copied = 0
        for (path, md5) in try sharedUploads.digests() {
            guard let checked = try? RootRelativePath(path) else { continue }
            let held = FileManager.default.contents(atPath: uploads.url(for: checked.path).path)
            if let held, Provisioning.md5(Array(held)) == md5 { continue }
            if try copySharedUpload(path) { copied += 1 }
        }
        return copied
    }
}
