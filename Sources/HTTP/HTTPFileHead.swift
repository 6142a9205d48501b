import FileService
import Foundation
import NIOCore
import NIOHTTP1

/// A file's full `200 OK` response head, made once per file when the file service loads it (``FilePreparer``):
/// the headers, and `HTTP/1.1 200 OK` with them serialized, so a cached file costs one write.
final class HTTPFileHead: Sendable {
    let headers: HTTPHeaders
    let serialized: ByteBuffer

    init(_ facts: ServedFile.Facts) {
        headers = ["Content-Type": facts.contentType, "ETag": facts.etag, "Accept-Ranges": "bytes",
                   "Last-Modified": HTTPExchange.httpDate(facts.modified), "Content-Length": String(facts.size)]
        serialized = HTTPExchange.serialize(version: .http1_1, status: .ok, headers: headers)
    }

    /// The hook the HTTP front-ends give the file service.
    static let prepare: FilePreparer = { HTTPFileHead($0) }

    /// The head the file service prepared for `file`, or one made now (a file service built without the hook).
    static func of(_ file: ServedFile) -> HTTPFileHead {
        file.prepared as? HTTPFileHead
            ?? HTTPFileHead(file.facts)
    }
}
