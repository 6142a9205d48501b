import Crypto
import Foundation
import Hummingbird
import ProvisioningCore
import Storage

/// `Authorization: Bearer TOKEN`: the token's SHA-256 must be a stored token's (only digests are kept); a read token
/// may only read (403 on anything else).
struct BearerAuthentication: RouterMiddleware {
    typealias Context = AdminContext
    let tokens: any AdminTokenStore
    /// Wrong tokens from one address are answered ever more slowly (S5), so that guessing one takes forever.
    let failures: FailedLogins

    func handle(_ request: Request, context: AdminContext,
                next: (Request, AdminContext) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { throw APIError.unauthorized }
        guard let token = try tokens.token(digest: BearerAuthentication.digest(String(header.dropFirst(7)))) else {
            let delay = failures.failed(context.client)
            if delay > .zero { try await Task.sleep(for: delay) }
            throw APIError.unauthorized
        }
        failures.forget(context.client)
        if token.role == .read, request.method != .get, request.method != .head { throw APIError.forbidden }
        var context = context
        context.role = token.role
        return try await next(request, context)
    }

    /// What is stored of a token: its SHA-256, hex. Tokens are 256 random bits, so a fast hash is enough.
    static func digest(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

/// API tokens as `autoprov admin token create` makes them.
public enum AdminTokens {
    /// 256 random bits, base64url without padding, after `autoprov_`.
    public static func newToken() -> String { "autoprov_" + ConsoleSessions.randomToken() }

    /// What is stored of a token.
    public static func digest(_ token: String) -> String { BearerAuthentication.digest(token) }
}
