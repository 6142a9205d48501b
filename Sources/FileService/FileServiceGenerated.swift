import Foundation
import Inventory
import NIOCore
import ProvisioningCore
import Synchronization

/// Generated files (the inventory's templates) as the file service answers them: after uploads, before the root,
/// whole or with secret lines left out, kept rendered within `cache_mb`.
extension FileService {
    /// A generated file's answer without the root's checks, when the name is one only the inventory can give:
    /// top level, and no upload may take it (else the upload store is looked at first, by ``prepareRead``).
    /// `checked`: the inventory was asked and has no such file.
    func quickGenerated(_ request: FileRequest) -> (answer: ReadAnswer?, checked: Bool) {
        guard let generated else { return (nil, false) }
        // An inventory that generates nothing (no template, no active device): nothing to ask it.
        guard generated.generatesFiles else { return (nil, true) }
        guard case .success(let path) = confine(request), path.segments.count == 1,
              !mayBeUpload(path.segments[0])
        else { return (nil, false) }
        return (generatedAnswer(path, request), true)
    }

    /// Whether an upload may have this name (S4): only names the upload patterns allow are ever stored, so any other
    /// name needs no look at the upload store.
    func mayBeUpload(_ name: String) -> Bool {
        zip(uploadEndings, settings.uploadPatterns).contains { ending, pattern in
            name.utf8.reversed().starts(with: ending.utf8.reversed()) && Glob.matches(pattern: pattern, name: name)
        }
    }

    /// What a generated file comes to for this request: whole for its own device, or with `[inventory] secrets`
    /// open; with its secret lines left out for anyone else. Encrypted like a root file when `[encryption]` says so.
    func generatedAnswer(_ path: RootRelativePath, _ request: FileRequest) -> ReadAnswer? {
        guard let generated, generated.generatesFiles, path.segments.count == 1 else { return nil }
        let name = path.segments[0]
        let serverURL = request.serverURL ?? settings.templateServerURL
        let entry: GeneratedEntry
        let revision = generated.revision
        if let cached = generatedCache.entry(name, serverURL: serverURL), cached.revision == revision {
            entry = cached
        } else {
            // Rendered from the snapshot of the revision it is kept under: an entry rendered from the one before a
            // change is never taken for the new one.
            let (snapshot, revision, modified) = generated.current
            guard let file = snapshot.file(named: name, serverURL: serverURL) else { return nil }
            let served = { (bytes: [UInt8]) -> ServedFile in
                let out = self.encryption.isOn ? self.encryption.served(bytes, path: path) : bytes
                return ServedFile(bytes: out, modified: modified, contentType: "text/plain", prepare: self.prepare)
            }
            entry = GeneratedEntry(whole: served(file.bytes), redacted: file.holdsSecrets ? served(file.redactedBytes) : nil,
                                   revision: revision)
            generatedCache.insert(entry, name: name, serverURL: serverURL, budget: settings.generatedCacheBytes)
        }
        guard let redacted = entry.redacted, generated.secretsMode == .device else { return .file(entry.whole) }
        let owner: String?
        if case .macConfig(let mac) = ProvisioningFileName(name).kind { owner = mac.canonical } else { owner = nil }
        switch deviceAuthentication(request, owner: owner, devices: generated.snapshot.devices) {
        case .owner: return .file(entry.whole)
        case .other: return .file(redacted)
        case .challenge(let delay, let stale):
            return .unauthorized(realm: FileService.deviceRealm, delay: delay, stale: stale)
        }
    }

    /// Called when the inventory changed: generated files are rendered anew, and no thread answers from before.
    public func generatedFilesChanged() {
        generatedCache.removeAll()
        generation.add(1, ordering: .releasing)
    }
}

/// A generated file's bytes as they go out: whole, and without its secret lines when it has any.
struct GeneratedEntry: Sendable {
    var whole: ServedFile
    var redacted: ServedFile?
    /// The inventory revision it was rendered at.
    var revision: Int

    /// What keeping it costs, about: its files, and its key and place in the table.
    var cost: Int { whole.cost + (redacted?.cost ?? 0) + 128 }
}

/// The generated files kept, in shards by name so that threads rarely wait on each other, each shard with its
/// part of the budget.
final class GeneratedCacheShards: Sendable {
    private final class Shard: Sendable {
        let cache = Mutex(GeneratedCache())
    }

    private let shards = (0..<16).map { _ in Shard() }

    private func shard(_ name: String) -> Shard {
        var hasher = Hasher()
        hasher.combine(name)
        return shards[Int(UInt(bitPattern: hasher.finalize()) % UInt(shards.count))]
    }

    func entry(_ name: String, serverURL: String) -> GeneratedEntry? {
        shard(name).cache.withLock { $0.entries[serverURL]?[name] }
    }

    func insert(_ entry: GeneratedEntry, name: String, serverURL: String, budget: Int) {
        let share = budget / shards.count
        shard(name).cache.withLock { $0.insert(entry, name: name, serverURL: serverURL, budget: share) }
    }

    func removeAll() {
        for shard in shards { shard.cache.withLock { $0 = GeneratedCache() } }
    }
}

/// The generated files kept, by the server URL they were rendered for (one, mostly) and name, and what they cost.
struct GeneratedCache {
    var entries: [String: [String: GeneratedEntry]] = [:]
    var bytes = 0

    /// Keeps an entry; at the budget, everything kept before is dropped for it (the files are rendered again).
    mutating func insert(_ entry: GeneratedEntry, name: String, serverURL: String, budget: Int) {
        if bytes + entry.cost > budget {
            entries.removeAll()
            bytes = 0
        }
        if let old = entries[serverURL, default: [:]].updateValue(entry, forKey: name) { bytes -= old.cost }
        bytes += entry.cost
    }
}
