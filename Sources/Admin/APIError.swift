import Foundation
import HTTPTypes
import Hummingbird
import Inventory
import Logging
import Storage

/// An error as the API says it: `{"error": {"code": "...", "message": "..."}}` with its status.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    /// More for the client: a lint refusal's diagnostics.
    var diagnostics: [APIDiagnostic] = []
    /// The methods a path has, for a 405.
    var allow: [String] = []
    /// Seconds after which to try again, for a 503.
    var retryAfter: Int?

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"autoprov\"" }
        if !allow.isEmpty { headers[.allow] = allow.joined(separator: ", ") }
        if let retryAfter { headers[.retryAfter] = "\(retryAfter)" }
        let body = APIErrorBody(error: .init(code: code, message: message),
                                diagnostics: diagnostics.isEmpty ? nil : diagnostics)
        return Response(status: status, headers: headers, body: .init(byteBuffer: try APIJSON.buffer(body)))
    }

    static func badRequest(_ message: String) -> APIError { APIError(status: .badRequest, code: "bad-request", message: message) }
    static func notFound(_ message: String) -> APIError { APIError(status: .notFound, code: "not-found", message: message) }
    static func conflict(_ message: String) -> APIError { APIError(status: .conflict, code: "conflict", message: message) }
    static let unauthorized = APIError(status: .unauthorized, code: "unauthorized",
                                       message: "send Authorization: Bearer TOKEN (autoprov admin token create)")
    static let forbidden = APIError(status: .forbidden, code: "forbidden", message: "this token may only read")
}

/// An error's JSON.
private struct APIErrorBody: Encodable {
    struct Inner: Encodable {
        let code: String
        let message: String
    }
    let error: Inner
    let diagnostics: [APIDiagnostic]?
}

/// A lint problem as the API reports it.
struct APIDiagnostic: Encodable, Sendable {
    let path: String
    let line: Int
    let column: Int
    let severity: String
    let code: String
    let message: String
    let device: String?
}

/// Every error leaves the API in its one shape: the router's own (no such route, body too large) and any other
/// failure (500, logged, its text not shown).
struct APIErrorMiddleware: RouterMiddleware {
    typealias Context = AdminContext
    let logger: Logger
    /// The console's sessions: its errors are pages, with the navigation of who is signed in.
    let sessions: ConsoleSessions

    func handle(_ request: Request, context: AdminContext,
                next: (Request, AdminContext) async throws -> Response) async throws -> Response {
        guard request.uri.path == "/api" || request.uri.path.hasPrefix("/api/") else {
            return try await console(request, context: context, next: next)
        }
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError where error.status == .notFound {
            // A documented path with another method: 405, naming the methods it has.
            let path = String(request.uri.path.dropFirst("/api/v1".count))
            if request.uri.path.hasPrefix("/api/v1/"), let methods = OpenAPIDocument.methods(for: path) {
                throw APIError(status: .methodNotAllowed, code: "method-not-allowed",
                               message: "\(request.method) is not allowed here; \(methods.joined(separator: ", ")) are",
                               allow: methods)
            }
            throw APIError.notFound("no such resource: \(request.uri.path)")
        } catch let error as HTTPError {
            let codes: [HTTPResponse.Status: String] = [
                .notFound: "not-found", .methodNotAllowed: "method-not-allowed", .contentTooLarge: "too-large",
                .badRequest: "bad-request", .unauthorized: "unauthorized", .forbidden: "forbidden",
            ]
            let message = error.body ?? (error.status == .notFound ? "no such resource: \(request.uri.path)"
                                                                    : error.status.reasonPhrase)
            throw APIError(status: error.status, code: codes[error.status] ?? "error", message: message)
        } catch let unavailable as StoreUnavailable {
            logger.warning("admin API request failed: the store cannot be reached",
                           metadata: ["path": "\(request.uri.path)", "error": "\(unavailable)"])
            throw APIError(status: .serviceUnavailable, code: "store-unavailable",
                           message: "the inventory's database cannot be reached; nothing was written; try again",
                           retryAfter: 5)
        } catch let problems as TemplateProblems {
            throw APIError(status: .unprocessableContent, code: "lint",
                           message: "the stored templates do not compile; fix them first",
                           diagnostics: problems.problems.map(APIDiagnostic.init))
        } catch let error as any HTTPResponseError where error.status.code < 500 {
            throw APIError(status: error.status, code: error.status == .contentTooLarge ? "too-large" : "bad-request",
                           message: error.status.reasonPhrase)
        } catch {
            logger.error("admin API request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            throw APIError(status: .internalServerError, code: "internal", message: "the server failed; see its log")
        }
    }
}

extension APIErrorMiddleware {
    /// A console page's failure as a page: its own message, the router's (no such page, form too large), or a 500
    /// whose cause is logged, not shown.
    func console(_ request: Request, context: AdminContext,
                 next: (Request, AdminContext) async throws -> Response) async throws -> Response {
        let session = request.cookies[ConsoleSessions.cookie].flatMap { sessions.session($0.value) }
        do {
            return try await next(request, context)
        } catch let error as ConsoleError {
            return error.response(session: session)
        } catch let error as APIError {
            return ConsoleError(status: error.status, message: error.message).response(session: session)
        } catch let error as any HTTPResponseError where error.status.code < 500 {
            let message = error.status == .notFound ? "There is no page \(request.uri.path)." : error.status.reasonPhrase
            return ConsoleError(status: error.status, message: message).response(session: session)
        } catch {
            logger.error("console request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return ConsoleError(status: .internalServerError, message: "The server failed; see its log.").response(session: session)
        }
    }
}

/// JSON as the API writes it: keys sorted, so that the same state always gives the same bytes.
enum APIJSON {
    static func buffer(_ value: some Encodable) throws -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return ByteBuffer(bytes: try encoder.encode(value))
    }

    /// A time as the API writes it: RFC 3339, UTC, whole seconds (`2026-12-07T10:00:00Z`).
    static func time(_ seconds: Double) -> String {
        var whole = time_t(seconds.rounded(.down))
        var parts = tm()
        gmtime_r(&whole, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: try buffer(value)))
    }
}
