import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOSSL
import X509

/// The request context: Hummingbird's core storage plus the connection it came on.
public struct ProvisioningRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Uploads are limited by the file service, not here.
    public var maxUploadSize: Int { 64 * 1024 * 1024 }
}

/// HTTP and HTTPS: a thin front-end that turns requests into ``FileService`` calls (S1–S5 hold there).
public struct HTTPFrontEnd: HTTPResponder {
    public typealias Context = ProvisioningRequestContext

    let service: FileService
    let protocolName: String

    public init(service: FileService, isTLS: Bool) {
        self.service = service
        protocolName = isTLS ? "https" : "http"
    }

    public func respond(to request: Request, context: Context) async throws -> Response {
        let started = ContinuousClock.now
        if request.uri.path == "/metrics", request.method == .get, protocolName == "http" {
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: service.metrics.render())))
        }
        var fileRequest = FileRequest(
            protocolName: protocolName, path: request.uri.path, isPercentEncoded: true,
            client: context.channel.remoteAddress?.ipAddress ?? "unknown",
            userAgent: request.headers[.userAgent], credentials: HTTPFrontEnd.credentials(request))
        if protocolName == "https" { fileRequest.certificateSubject = await HTTPFrontEnd.peerSubject(context.channel) }
        let response: Response
        var bytes = 0
        let result: String
        switch request.method {
        case .get, .head:
            (response, result, bytes) = await read(fileRequest, request: request)
        case .put:
            var request = request
            (response, result, bytes) = await write(fileRequest, request: &request)
        default:
            response = Response(status: .methodNotAllowed, headers: [.allow: "GET, HEAD, PUT"])
            result = "bad-method"
        }
        service.record(fileRequest, result: result, bytes: bytes, seconds: (ContinuousClock.now - started).seconds)
        return response
    }

    private func read(_ fileRequest: FileRequest, request: Request) async -> (Response, String, Int) {
        switch await service.read(fileRequest) {
        case .notFound:
            return (Response(status: .notFound), "not-found", 0)
        case .forbidden:
            return (Response(status: .forbidden), "forbidden", 0)
        case .unauthorized(let realm, let delay, let stale):
            return (await challenge(realm: realm, delay: delay, stale: stale), "unauthorized", 0)
        case .file(let file):
            let etag = "\"\(file.md5)\""
            var headers: HTTPFields = [.contentType: file.contentType, .eTag: etag, .acceptRanges: "bytes",
                                       .lastModified: file.lastModified]
            if let match = request.headers[.ifNoneMatch],
               match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag || $0 == "*" }) {
                return (Response(status: .notModified, headers: headers), "not-modified", 0)
            }
            var body = file.contents
            var status = HTTPResponse.Status.ok
            if let range = request.headers[.range] {
                guard let (start, end) = HTTPFrontEnd.byteRange(range, size: body.readableBytes) else {
                    headers[.contentRange] = "bytes */\(body.readableBytes)"
                    return (Response(status: .rangeNotSatisfiable, headers: headers), "bad-range", 0)
                }
                headers[.contentRange] = "bytes \(start)-\(end)/\(body.readableBytes)"
                body = body.getSlice(at: body.readerIndex + start, length: end - start + 1)!
                status = .partialContent
            }
            headers[.contentLength] = String(body.readableBytes)
            if request.method == .head {
                return (Response(status: status, headers: headers), "ok", 0)
            }
            return (Response(status: status, headers: headers, body: .init(byteBuffer: body)), "ok", body.readableBytes)
        }
    }

    private func write(_ fileRequest: FileRequest, request: inout Request) async -> (Response, String, Int) {
        // Refuse before reading the body when the name or the credentials are wrong.
        let limit: Int
        switch service.uploadPermission(fileRequest) {
        case .failure(.forbidden):
            return (Response(status: .forbidden), "forbidden", 0)
        case .failure(.unauthorized(let realm, let delay, let stale)):
            return (await challenge(realm: realm, delay: delay, stale: stale), "unauthorized", 0)
        case .success(let permission):
            limit = permission.1
        }
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            return (Response(status: .contentTooLarge), "too-large", 0)
        }
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: limit)
        } catch {
            return (Response(status: .contentTooLarge), "too-large", 0)
        }
        switch await service.write(fileRequest, contents: body) {
        case .created: return (Response(status: .created), "stored", body.readableBytes)
        case .replaced: return (Response(status: .noContent), "stored", body.readableBytes)
        case .forbidden: return (Response(status: .forbidden), "forbidden", 0)
        case .tooLarge: return (Response(status: .contentTooLarge), "too-large", 0)
        case .unauthorized(let realm, let delay, let stale):
            return (await challenge(realm: realm, delay: delay, stale: stale), "unauthorized", 0)
        case .failed: return (Response(status: .internalServerError), "failed", 0)
        }
    }

    private func challenge(realm: String, delay: Duration, stale: Bool) async -> Response {
        if delay > .zero { try? await Task.sleep(for: delay) }
        var headers = HTTPFields()
        for value in service.credentials.challenges(realm: realm, stale: stale) {
            headers.append(HTTPField(name: .wwwAuthenticate, value: value))
        }
        return Response(status: .unauthorized, headers: headers)
    }

    static func credentials(_ request: Request) -> Credentials? {
        guard let header = request.headers[.authorization] else { return nil }
        if header.lowercased().hasPrefix("basic "),
           let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
           let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") {
            return .password(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        }
        if header.lowercased().hasPrefix("digest "),
           let digest = DigestResponse(header: String(header.dropFirst(7)), method: request.method.rawValue) {
            return .digest(digest)
        }
        return nil
    }

    /// `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range).
    static func byteRange(_ header: String, size: Int) -> (Int, Int)? {
        guard header.hasPrefix("bytes="), size > 0 else { return nil }
        let spec = header.dropFirst(6)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces)
        let last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            guard let suffix = Int(last), suffix > 0 else { return nil }
            return (max(size - suffix, 0), size - 1)
        }
        guard let start = Int(first), start < size else { return nil }
        if last.isEmpty { return (start, size - 1) }
        guard let end = Int(last), end >= start else { return nil }
        return (start, min(end, size - 1))
    }

    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }

    /// The subject of the client's certificate (mutual TLS), for the request log.
    static func peerSubject(_ channel: any Channel) async -> String? {
        let certificate = try? await channel.eventLoop.submit { () -> [UInt8]? in
            let handler = try channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
            return try handler.peerCertificate?.toDERBytes()
        }.get()
        guard let der = certificate ?? nil, let parsed = try? X509.Certificate(derEncoded: der) else { return nil }
        return parsed.subject.description
    }
}
