import CLinuxShims
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Makes a batch of uploads durable with one flush of one file (S4): each upload, with the version it replaces, is
/// appended to a journal under `uploads/.journal/`, which is flushed (`fdatasync`) before the batch is renamed into
/// place and answered. The uploaded files themselves reach the disk with the system's own write-back, many inodes to
/// a block, instead of an `fsync` each that writes its inode's block and flushes the disk's cache once per file: in
/// a boot storm that was a fifth of the server's processor time. Every few seconds (``checkpointIfDue()``) a
/// checkpoint flushes the upload folder's filesystem once (`syncfs`, off the committer's thread) and drops the
/// journal written before it. After a crash or a power loss, ``recover(into:)`` puts back from the journal every
/// upload whose file, or whose kept previous version, did not reach the disk, before the server answers anyone.
final class UploadJournal: Sendable {
    /// One upload as journaled: its bytes, and those of the version it replaced (nil when it was new).
    struct Record: Equatable {
        var time: Double
        var path: String
        var bytes: [UInt8]
        var previous: [UInt8]?
    }

    let directory: URL
    /// A segment is closed and checkpointed once it holds this many bytes or is this old.
    let segmentBytes: Int
    let segmentAge: Duration

    private struct Segment {
        var descriptor: Int32 = -1
        var sequence = 0
        var bytes = 0
        var opened = ContinuousClock.now
        /// The paths journaled since the last checkpoint began: what a clean stop flushes one by one.
        var paths = Set<String>()
    }
    private let segment = Mutex(Segment())
    private let checkpointing = Atomic<Bool>(false)
    /// Checkpoints completed (a test waits for one).
    let checkpoints = Atomic<Int>(0)

    init(uploads: URL, segmentBytes: Int = 4 << 20, segmentAge: Duration = .seconds(10)) throws {
        directory = uploads.appendingPathComponent(".journal")
        self.segmentBytes = segmentBytes
        self.segmentAge = segmentAge
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let last = Self.segments(in: directory).last?.sequence ?? 0
        segment.withLock { $0.sequence = last }
    }

    deinit {
        segment.withLock { if $0.descriptor >= 0 { close($0.descriptor) } }
    }

    /// The largest upload journaled; a larger one is flushed in place (``UploadCommitter``).
    static let largestJournaled = 256 * 1024

    /// Appends the records and flushes them to the disk; once it returns they survive a crash.
    func append(_ records: [Record]) throws {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(records.reduce(0) { $0 + 40 + $1.path.utf8.count + $1.bytes.count + ($1.previous?.count ?? 0) })
        for record in records { Self.encode(record, into: &buffer) }
        try segment.withLock { segment in
            if segment.descriptor < 0 { try open(&segment) }
            do {
                try Self.write(buffer, to: segment.descriptor, name: "journal segment \(segment.sequence)")
                guard fdatasync(segment.descriptor) == 0 else { throw UploadError.system("flush the upload journal", errno) }
            } catch {
                // What it holds may end in a torn record, which ends its reading: the next batch starts a new one.
                close(segment.descriptor)
                segment.descriptor = -1
                throw error
            }
            segment.bytes += buffer.count
            for record in records { segment.paths.insert(record.path) }
        }
    }

    /// A new segment, its name durable in the journal's folder before anything is written to it.
    private func open(_ segment: inout Segment) throws {
        segment.sequence += 1
        let path = Self.name(directory, segment.sequence)
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw UploadError.system("create \(path)", errno) }
        UploadStore.flushDirectory(directory.path)
        segment.descriptor = descriptor
        segment.bytes = 0
        segment.opened = .now
    }

    /// Once the open segment is large or old enough: closes it, and on a thread of its own flushes the filesystem
    /// and then removes every segment up to it (the uploads they hold are all on the disk). One checkpoint at a time;
    /// uploads go on into a new segment meanwhile.
    func checkpointIfDue() {
        let due = segment.withLock { segment -> (Int, Set<String>)? in
            guard segment.descriptor >= 0,
                  segment.bytes >= segmentBytes || ContinuousClock.now - segment.opened >= segmentAge else { return nil }
            guard checkpointing.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
                return nil
            }
            close(segment.descriptor)
            segment.descriptor = -1
            defer { segment.paths = [] }
            return (segment.sequence, segment.paths)
        }
        guard let (upTo, paths) = due else { return }
        let thread = Thread { [self] in
            if !checkpoint(upTo: upTo) { segment.withLock { $0.paths.formUnion(paths) } }
            checkpointing.store(false, ordering: .releasing)
        }
        thread.name = "autoprov-journal"
        thread.start()
    }

    /// At a clean stop, once no upload is coming, after any checkpoint under way: the files journaled since the
    /// last one flushed one by one (a stop waits for this server's own uploads, never for what other processes left
    /// unwritten on the filesystem, as `syncfs` would), and the journal removed: the next start has nothing to check.
    func finish(_ store: UploadStore) {
        while !checkpointing.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            Thread.sleep(forTimeInterval: 0.01)
        }
        defer { checkpointing.store(false, ordering: .releasing) }
        let paths = segment.withLock { segment -> Set<String> in
            if segment.descriptor >= 0 { close(segment.descriptor) }
            segment.descriptor = -1
            defer { segment.paths = [] }
            return segment.paths
        }
        let found = Self.segments(in: directory)
        guard !found.isEmpty else { return }
        // Each file, then every folder on its way (a folder made for it is an entry in its parent), and its versions'.
        var directories = Set([store.directory.path, store.versionsDirectory.path])
        for path in paths {
            let descriptor = Glibc.open(store.url(for: path).path, O_RDONLY | O_CLOEXEC)
            if descriptor >= 0 {
                fsync(descriptor)
                close(descriptor)
            }
            let components = path.split(separator: "/")
            for depth in 1...components.count {
                let folder = components.prefix(depth).joined(separator: "/")
                if depth < components.count { directories.insert(store.url(for: folder).path) }
                directories.insert(store.versionsDirectory.appendingPathComponent(folder).path)
            }
        }
        store.flushDirectories(directories)
        for segment in found { unlink(segment.path) }
        UploadStore.flushDirectory(directory.path)
    }

    /// Flushes the upload folder's filesystem, then removes the segments up to `upTo`; whether it could.
    private func checkpoint(upTo: Int) -> Bool {
        let folder = Glibc.open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard folder >= 0 else { return false }
        defer { close(folder) }
        guard clinux_syncfs(folder) == 0 else { return false }  // kept: the next checkpoint or a restart tries again
        for old in Self.segments(in: directory) where old.sequence <= upTo { unlink(old.path) }
        fsync(folder)
        checkpoints.add(1, ordering: .relaxed)
        return true
    }

    // MARK: Recovery

    /// What a recovery did: uploads put back, earlier versions put back into the history, records read.
    struct Recovery: Equatable {
        var restored = 0
        var versionsRestored = 0
        var records = 0
    }

    /// Puts back what the journal holds and the disk lost, then removes the journal: for each path journaled, every
    /// version it went through that is not in its history is added there (with the time it was replaced), and the
    /// last one is made the current file unless it already is (a current file that is neither, a torn write, is
    /// dropped). A segment's torn tail (a record cut short by the crash, never answered) ends it.
    @discardableResult
    static func recover(into store: UploadStore) throws -> Recovery {
        let directory = store.directory.appendingPathComponent(".journal")
        let found = segments(in: directory)
        guard !found.isEmpty else { return Recovery() }
        var recovery = Recovery()
        var order: [String] = []
        var chains: [String: [(bytes: [UInt8], replaced: Double?)]] = [:]
        for segment in found {
            guard let data = FileManager.default.contents(atPath: segment.path) else {
                throw UploadError.system("read \(segment.path)", errno)
            }
            for record in decode(Array(data)) {
                recovery.records += 1
                var chain = chains[record.path] ?? []
                if chain.isEmpty { order.append(record.path) }
                if let previous = record.previous, chain.last?.bytes != previous { chain.append((previous, nil)) }
                if !chain.isEmpty { chain[chain.count - 1].replaced = record.time }
                chain.append((record.bytes, nil))
                chains[record.path] = chain
            }
        }
        for path in order {
            guard let chain = chains[path], let final = chain.last else { continue }
            let kept = Set(store.versions(of: path).filter { $0.id != "current" }.compactMap {
                FileManager.default.contents(atPath: $0.url.path).map(Array.init)
            })
            for (index, version) in chain.dropLast().enumerated() where !kept.contains(version.bytes) {
                try store.addVersion(version.bytes, of: path, replacedAt: version.replaced ?? 0, index: index)
                recovery.versionsRestored += 1
            }
            let current = FileManager.default.contents(atPath: store.url(for: path).path).map(Array.init)
            if current != final.bytes {
                try store.replace(path, with: final.bytes)
                recovery.restored += 1
            }
        }
        let folder = Glibc.open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard folder >= 0 else { throw UploadError.system("open \(directory.path)", errno) }
        defer { close(folder) }
        guard clinux_syncfs(folder) == 0 else { throw UploadError.system("flush \(store.directory.path)", errno) }
        for segment in found { unlink(segment.path) }
        fsync(folder)
        return recovery
    }

    // MARK: Format

    /// A record: "APJ1", the time (the bits of a Double), the lengths of the path, the bytes and the previous bytes
    /// (all ones: none), each little-endian; the path, the bytes, the previous bytes; then a 64-bit FNV-1a of all
    /// that, which a record cut short or overwritten does not match.
    static let magic: [UInt8] = Array("APJ1".utf8)
    static let noPrevious = UInt32.max

    static func encode(_ record: Record, into buffer: inout [UInt8]) {
        let start = buffer.count
        buffer += magic
        append(record.time.bitPattern, to: &buffer)
        append(UInt32(record.path.utf8.count), to: &buffer)
        append(UInt32(record.bytes.count), to: &buffer)
        append(record.previous.map { UInt32($0.count) } ?? noPrevious, to: &buffer)
        buffer += record.path.utf8
        buffer += record.bytes
        if let previous = record.previous { buffer += previous }
        append(fnv1a(buffer[start...]), to: &buffer)
    }

    /// The records of a segment, up to the first that is not whole.
    static func decode(_ bytes: [UInt8]) -> [Record] {
        var records: [Record] = []
        var offset = 0
        func integer<T: FixedWidthInteger>(_ type: T.Type, at position: Int) -> T {
            var value: T = 0
            for index in 0..<MemoryLayout<T>.size { value |= T(bytes[position + index]) << (8 * index) }
            return value
        }
        while bytes.count - offset >= 24 + 8 {
            guard Array(bytes[offset..<offset + 4]) == magic else { break }
            let time = Double(bitPattern: integer(UInt64.self, at: offset + 4))
            let pathCount = Int(integer(UInt32.self, at: offset + 12))
            let count = Int(integer(UInt32.self, at: offset + 16))
            let previousField = integer(UInt32.self, at: offset + 20)
            let previousCount = previousField == noPrevious ? 0 : Int(previousField)
            let end = offset + 24 + pathCount + count + previousCount
            guard end + 8 <= bytes.count, integer(UInt64.self, at: end) == fnv1a(bytes[offset..<end]) else { break }
            let pathStart = offset + 24, bytesStart = pathStart + pathCount, previousStart = bytesStart + count
            guard let path = String(validating: bytes[pathStart..<bytesStart], as: UTF8.self) else { break }
            records.append(Record(time: time, path: path, bytes: Array(bytes[bytesStart..<previousStart]),
                                  previous: previousField == noPrevious ? nil : Array(bytes[previousStart..<end])))
            offset = end + 8
        }
        return records
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { buffer += $0 }
    }

    static func fnv1a(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return hash
    }

    // MARK: Files

    static func name(_ directory: URL, _ sequence: Int) -> String {
        directory.path + "/" + String(repeating: "0", count: max(0, 12 - String(sequence).count)) + "\(sequence).log"
    }

    /// The journal's segments, oldest first.
    static func segments(in directory: URL) -> [(sequence: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasSuffix(".log"), let sequence = Int(name.dropLast(4)) else { return nil }
            return (sequence, directory.path + "/" + name)
        }.sorted { $0.0 < $1.0 }
    }

    private static func write(_ bytes: [UInt8], to descriptor: Int32, name: String) throws {
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw UploadError.system("write \(name)", errno)
                }
                offset += written
            }
        }
    }
}
