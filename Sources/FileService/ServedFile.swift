import Crypto
import Foundation
@_spi(CustomByteBufferAllocator) import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// A file ready to send: the bytes are shared, never copied per request. A class, so that handing a cached file
/// around costs one reference count, not one per field. Kept small, since a fleet's worth of them stays in memory:
/// the contents and what a front-end prepared share one allocation, and the MD5 is kept as its 16 bytes.
public final class ServedFile: Sendable {
    public let contents: ByteBuffer
    /// What a front-end made of this file once, through the file service's ``FilePreparer`` (the HTTP side: its
    /// serialized `200 OK` head, so that a cached file costs one write), in the same allocation as the contents;
    /// nil without one.
    public let prepared: ByteBuffer?
    public let modified: Date
    public let contentType: String
    private let digest: (UInt64, UInt64)

    /// `bytes` are copied once, after what `prepare` makes of them.
    init(bytes: [UInt8], modified: Date, contentType: String, prepare: FilePreparer?) {
        var words = (UInt64(0), UInt64(0))
        for (index, byte) in Insecure.MD5.hash(data: bytes).enumerated() {
            if index < 8 { words.0 = words.0 << 8 | UInt64(byte) } else { words.1 = words.1 << 8 | UInt64(byte) }
        }
        digest = words
        self.modified = modified
        self.contentType = contentType
        let head = prepare?(Facts(size: bytes.count, etag: ServedFile.hex(words, quoted: true), modified: modified,
                                  contentType: contentType))
        // Exactly as large as the two, not rounded up to a power of two as a ByteBuffer's own storage is: a
        // fleet's 2 KB files would otherwise take 4 KB each half the time.
        let headBytes = head?.readableBytes ?? 0
        let memory = UnsafeMutableRawBufferPointer(start: malloc(max(headBytes + bytes.count, 1))!,
                                                   count: headBytes + bytes.count)
        if let head { head.withUnsafeReadableBytes { memory.copyMemory(from: $0) } }
        bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: memory[headBytes...]).copyMemory(from: $0) }
        let buffer = ByteBuffer(takingOwnershipOf: memory, allocator: ByteBufferAllocator())
        prepared = head == nil ? nil : buffer.getSlice(at: 0, length: headBytes)
        contents = buffer.getSlice(at: headBytes, length: bytes.count)!
    }

    /// MD5 of the contents, hex (S3).
    public var md5: String { ServedFile.hex(digest, quoted: false) }

    /// The quoted ETag (S3).
    public var etag: String { ServedFile.hex(digest, quoted: true) }

    /// What keeping it costs, about: its one allocation of bytes (malloc's 16-byte steps and header) and its
    /// objects.
    var cost: Int {
        let bytes = contents.readableBytes + (prepared?.readableBytes ?? 0)
        return (bytes + 8 + 15) / 16 * 16 + 160
    }

    private static func hex(_ words: (UInt64, UInt64), quoted: Bool) -> String {
        String(unsafeUninitializedCapacity: quoted ? 34 : 32) { out in
            var index = 0
            func put(_ byte: UInt8) {
                out[index] = byte
                index += 1
            }
            if quoted { put(UInt8(ascii: "\"")) }
            for word in [words.0, words.1] {
                for shift in stride(from: 60, through: 0, by: -4) {
                    let nibble = UInt8(truncatingIfNeeded: word >> UInt64(shift)) & 0xF
                    put(nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10)
                }
            }
            if quoted { put(UInt8(ascii: "\"")) }
            return index
        }
    }

    /// What a ``FilePreparer`` is told of this file.
    public var facts: Facts {
        Facts(size: contents.readableBytes, etag: etag, modified: modified, contentType: contentType)
    }

    /// What a ``FilePreparer`` is told of a file.
    public struct Facts: Sendable {
        public var size: Int
        public var etag: String
        public var modified: Date
        public var contentType: String
    }
}

/// Called once for each file the service loads, before any front-end sends it; what it returns rides along as
/// ``ServedFile/prepared``, bytes kept with the file's own. The file service knows no protocol: a front-end brings
/// its own.
public typealias FilePreparer = @Sendable (ServedFile.Facts) -> ByteBuffer
