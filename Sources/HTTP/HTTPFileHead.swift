import FileService
import Foundation
import NIOCore
import NIOHTTP1

/// A file's full `200 OK` response head, made once per file when the file service loads it (``FilePreparer``):
/// `HTTP/1.1 200 OK` with its headers serialized, kept with the file's bytes, so a cached file costs one write. The
/// headers as values are made again when a path needs them (304, ranges, the SwiftNIO side): kept, they cost more
/// memory than the file itself for a fleet of small files.
enum HTTPFileHead {
    static func headers(_ facts: ServedFile.Facts) -> HTTPHeaders {
        ["Content-Type": facts.contentType, "ETag": facts.etag, "Accept-Ranges": "bytes",
         "Last-Modified": HTTPExchange.httpDate(facts.modified), "Content-Length": String(facts.size)]
    }

    /// The hook the HTTP front-ends give the file service.
    static let prepare: FilePreparer = {
        HTTPExchange.serialize(version: .http1_1, status: .ok, headers: headers($0))
    }

    /// The head the file service prepared for `file`, or one made now (a file service built without the hook).
    static func serialized(_ file: ServedFile) -> ByteBuffer {
        file.prepared ?? prepare(file.facts)
    }
}
