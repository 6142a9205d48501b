import FileService
import Foundation
import NIOCore
import NIOHTTP1

/// A file's full `200 OK` response head, made once per file when the file service loads it (``FilePreparer``):
/// `HTTP/1.1 200 OK` with its headers serialized, so a cached file costs one write. The headers as values are made
/// again when a path needs them (304, ranges, the SwiftNIO side): kept, they cost more memory than the file itself
/// for a fleet of small files.
final class HTTPFileHead: Sendable {
    let serialized: ByteBuffer
    private let facts: ServedFile.Facts
    private let lastModified: String

    init(_ facts: ServedFile.Facts) {
        self.facts = facts
        lastModified = HTTPExchange.httpDate(facts.modified)
        serialized = HTTPExchange.serialize(version: .http1_1, status: .ok,
                                            headers: HTTPFileHead.headers(facts, lastModified: lastModified))
    }

    var headers: HTTPHeaders { HTTPFileHead.headers(facts, lastModified: lastModified) }

    private static func headers(_ facts: ServedFile.Facts, lastModified: String) -> HTTPHeaders {
        ["Content-Type": facts.contentType, "ETag": facts.etag, "Accept-Ranges": "bytes",
         "Last-Modified": lastModified, "Content-Length": String(facts.size)]
    }

    /// The hook the HTTP front-ends give the file service.
    static let prepare: FilePreparer = { HTTPFileHead($0) }

    /// The head the file service prepared for `file`, or one made now (a file service built without the hook).
    static func of(_ file: ServedFile) -> HTTPFileHead {
        file.prepared as? HTTPFileHead
            ?? HTTPFileHead(file.facts)
    }
}
